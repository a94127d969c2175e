"""The async client, and the CLI commands (keys, remote submit/show/watch) through the real
command line (``cli.main``), in this process."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.client import AsyncImageJobsClient, ImageJobsClient, ImageJobsError, JobWaitTimeout
from cli.main import cli_app
from imagejobs.emulator import EmulatorServer
from imagejobs.settings import get_settings
from imagejobs.store.db import Database
from imagejobs.store.producers import NewKey, authenticate
from tests.api.conftest import png
from tests.services import WorkerProcess

pytestmark = pytest.mark.slow


def cli() -> typer.Typer:
    """The whole ``imagejobs`` command line (remote commands are the ones given ``--api``)."""
    return cli_app()


def test_async_client_submit_wait_list_cancel(
    api_url: str, alpha: NewKey, worker: WorkerProcess
) -> None:
    async def scenario() -> None:
        async with AsyncImageJobsClient(api_url, alpha.api_key) as c:
            job = await c.submit([png()], task="caption", metadata={"async": True})
            seen: list[str] = []
            done = await c.wait(job["id"], timeout=60, progress=lambda j: seen.append(j["status"]))
            assert done["status"] == "succeeded" and seen[-1] == "succeeded"
            ids = [j["id"] async for j in c.list(page_size=3)]
            assert job["id"] in ids and len(ids) == len(set(ids))
            with pytest.raises(ImageJobsError) as caught:
                await c.cancel(job["id"])
            assert caught.value.status == 409
            assert (await c.health())["status"] == "ok"

    asyncio.run(scenario())


def test_wait_times_out_with_the_last_state(
    client: ImageJobsClient, emulator: EmulatorServer, worker: WorkerProcess
) -> None:
    emulator.control.set_faults(latency_s=2)
    job = client.submit([png()], task="caption")
    with pytest.raises(JobWaitTimeout) as caught:
        client.wait(job["id"], timeout=0.3)
    assert caught.value.job["id"] == job["id"]
    assert caught.value.job["status"] in ("queued", "running")
    client.cancel(job["id"])


def test_keys_create_and_rotate_secret(database_url: str) -> None:
    runner = CliRunner()
    name = f"cli-producer-{uuid.uuid4().hex[:8]}"
    created = runner.invoke(cli(), ["keys", "create", name])
    assert created.exit_code == 0, created.output
    key = re.search(r"api_key: (ij_\S+)", created.output)
    secret = re.search(r"webhook_secret: (whsec_\S+)", created.output)
    assert key and secret
    with Database(get_settings().effective_database_url).session() as session:
        producer = authenticate(session, key.group(1))
    assert producer is not None and producer.webhook_secrets == [secret.group(1)]
    again = runner.invoke(cli(), ["keys", "create", name])
    assert "webhook_secret" not in again.output  # the producer exists: only a new key
    rotated = runner.invoke(cli(), ["keys", "rotate-secret", name])
    secrets = re.findall(r"webhook_secret: (whsec_\S+)", rotated.output)
    assert len(secrets) == 2 and secrets[1] == secret.group(1)
    finished = runner.invoke(cli(), ["keys", "rotate-secret", name, "--finish"])
    assert re.findall(r"webhook_secret: (whsec_\S+)", finished.output) == [secrets[0]]
    missing = runner.invoke(cli(), ["keys", "rotate-secret", "no-such-producer-x"])
    assert missing.exit_code == 1 and "no producer" in missing.output


def test_remote_submit_show_watch(
    api_url: str, alpha: NewKey, worker: WorkerProcess, tmp_path: Path
) -> None:
    runner = CliRunner()
    image = tmp_path / "red.png"
    image.write_bytes(png())
    env = {"IMAGEJOBS_API_KEY": alpha.api_key}
    submitted = runner.invoke(
        cli(), ["submit", str(image), "--task", "caption", "--api", api_url], env=env
    )
    assert submitted.exit_code == 0, submitted.output
    job_id = submitted.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    watched = runner.invoke(cli(), ["watch", job_id, "--api", api_url, "--json"], env=env)
    assert watched.exit_code == 0, watched.output
    assert json.loads(watched.stdout)["status"] == "succeeded"
    shown = runner.invoke(cli(), ["show", job_id, "--api", api_url, "--key", alpha.api_key])
    assert shown.exit_code == 0 and "succeeded" in shown.stdout
    waited = runner.invoke(
        cli(),
        [
            "submit",
            str(image),
            "--task",
            "classify",
            "--labels",
            "red,blue",
            "--wait",
            "--json",
            "--api",
            api_url,
        ],
        env=env,
    )
    assert waited.exit_code == 0, waited.output
    assert json.loads(waited.stdout)["labels"]
    listed = runner.invoke(cli(), ["list", "--json", "--limit", "2", "--api", api_url], env=env)
    assert listed.exit_code == 0, listed.output
    assert [item["id"] for item in json.loads(listed.stdout)] == [
        json.loads(waited.stdout)["id"],
        job_id,
    ]


def test_remote_errors_name_the_problem(api_url: str, alpha: NewKey, tmp_path: Path) -> None:
    runner = CliRunner()
    image = tmp_path / "red.png"
    image.write_bytes(png())
    bad = runner.invoke(
        cli(),
        ["submit", str(image), "--task", "classify", "--api", api_url, "--key", alpha.api_key],
    )
    assert bad.exit_code == 2 and "labels" in bad.output
    wrong_key = runner.invoke(cli(), ["show", "0" * 32, "--api", api_url, "--key", "ij_nope"])
    assert wrong_key.exit_code == 1 and "401" in wrong_key.output
    missing = runner.invoke(cli(), ["show", "0" * 32, "--api", api_url, "--key", alpha.api_key])
    assert missing.exit_code == 1 and "404" in missing.output
    for result in (bad, wrong_key, missing):  # one line each, no traceback
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert result.output.startswith("error: HTTP ")
