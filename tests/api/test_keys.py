"""API keys: a producer lists, creates and revokes its own keys over HTTP; operators do the same
with ``imagejobs keys list`` / ``imagejobs keys revoke``. Listings never show a key or its hash,
and a revoked key answers 401 at once."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
import typer
from typer.testing import CliRunner

from api.client import ImageJobsClient, ImageJobsError
from cli.keys import keys_app
from imagejobs.store.producers import NewKey, hash_key


def status_with(api_url: str, api_key: str) -> int:
    response = httpx.get(f"{api_url}/v1/jobs", headers={"Authorization": f"Bearer {api_key}"})
    return response.status_code


def test_a_producer_lists_rotates_and_revokes_its_keys(
    api_url: str, make_producer: Callable[[str], NewKey]
) -> None:
    first = make_producer("keys")
    other = make_producer("keys-other")
    with ImageJobsClient(api_url, first.api_key) as c:
        listed = c.list_keys()
        assert [(k["id"], k["active"]) for k in listed] == [(first.key_id, True)]
        assert listed[0]["prefix"] == first.api_key[: len(listed[0]["prefix"])]
        created = c.create_key()
        second = created["api_key"]
        assert second.startswith("ij_") and created["active"] and created["revoked_at"] is None
        assert status_with(api_url, second) == 200
        raw = httpx.get(f"{api_url}/v1/keys", headers={"Authorization": f"Bearer {second}"})
        assert [k["id"] for k in raw.json()["items"]] == [created["id"], first.key_id]
        for secret in (first.api_key, second, hash_key(first.api_key), hash_key(second)):
            assert secret not in raw.text  # ids and prefixes only
        revoked = c.revoke_key(first.key_id)
        assert revoked["id"] == first.key_id and revoked["revoked_at"] and not revoked["active"]
    assert status_with(api_url, first.api_key) == 401  # at once
    with ImageJobsClient(api_url, second) as c:
        assert c.revoke_key(first.key_id)["revoked_at"] == revoked["revoked_at"]  # no change
        assert [k["active"] for k in c.list_keys()] == [True, False]
        for foreign in (other.key_id, "0" * 32, "not-an-id"):
            with pytest.raises(ImageJobsError) as missing:
                c.revoke_key(foreign)
            assert missing.value.status == 404
            assert missing.value.problem["title"] == "Not found"
        with pytest.raises(ImageJobsError) as last:
            c.revoke_key(created["id"])
        assert last.value.status == 409 and "last active key" in last.value.problem["detail"]
        assert status_with(api_url, second) == 200
        c.revoke_key(created["id"], force=True)
    assert status_with(api_url, second) == 401
    assert status_with(api_url, other.api_key) == 200  # another producer's keys untouched


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(keys_app, name="keys")
    return app


def test_keys_list_and_revoke_commands(
    api_url: str, make_producer: Callable[[str], NewKey]
) -> None:
    runner = CliRunner()
    first = make_producer("cli-keys")
    name = first.producer.name
    created = runner.invoke(cli(), ["keys", "create", name])
    assert created.exit_code == 0, created.output
    second = created.output.split("api_key: ")[1].split()[0]

    listed = runner.invoke(cli(), ["keys", "list", name, "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert {r["producer"] for r in rows} == {name} and len(rows) == 2
    assert rows[1]["id"] == first.key_id and rows[1]["revoked_at"] is None
    assert set(rows[0]) == {"id", "prefix", "producer", "created_at", "revoked_at"}
    table = runner.invoke(cli(), ["keys", "list", name])
    assert first.key_id in table.output and first.api_key[:9] in table.output
    for secret in (first.api_key, second, hash_key(first.api_key)):
        assert secret not in listed.output + table.output
    everyone = runner.invoke(cli(), ["keys", "list", "--json"])
    assert {first.key_id, rows[0]["id"]} <= {r["id"] for r in json.loads(everyone.stdout)}

    revoked = runner.invoke(cli(), ["keys", "revoke", first.key_id])
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked key {first.key_id}" in revoked.output
    assert status_with(api_url, first.api_key) == 401
    assert status_with(api_url, second) == 200
    after = json.loads(runner.invoke(cli(), ["keys", "list", name, "--json"]).stdout)
    assert after[1]["revoked_at"] is not None and after[0]["revoked_at"] is None
    table = runner.invoke(cli(), ["keys", "list", name]).output.splitlines()
    assert table[0].split() == ["id", "prefix", "producer", "created", "revoked"]
    assert table[1].startswith(rows[0]["id"]) and table[1].endswith("  -")  # still active
    assert table[2].startswith(first.key_id) and table[2].endswith(after[1]["revoked_at"][11:19])

    last = runner.invoke(cli(), ["keys", "revoke", rows[0]["id"]])
    assert last.exit_code == 1 and "last active key" in last.output
    assert status_with(api_url, second) == 200
    forced = runner.invoke(cli(), ["keys", "revoke", rows[0]["id"], "--force"])
    assert forced.exit_code == 0, forced.output
    assert status_with(api_url, second) == 401

    unknown = runner.invoke(cli(), ["keys", "revoke", "0" * 32])
    assert unknown.exit_code == 1 and "no API key" in unknown.output
    nobody = runner.invoke(cli(), ["keys", "list", "no-such-producer-x"])
    assert nobody.exit_code == 1 and "no producer" in nobody.output
