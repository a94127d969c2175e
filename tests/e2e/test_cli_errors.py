"""Every failure of the ``imagejobs`` command line is one clear line on stderr and a non-zero
exit, run as a user runs it (a separate process) against real Postgres; ``--debug`` shows the
traceback. Files that are not images are refused before anything is stored or queued."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from PIL import Image

from tests.e2e.test_tasks import scene_a
from tests.services import REPO, database_name, fresh_database

pytestmark = pytest.mark.slow

UNKNOWN_ID = "0" * 32


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80", **env},
        cwd=REPO,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``error: ...`` line of a failed run (asserting there is nothing else)."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    path = tmp_path / "scene.png"
    path.write_bytes(scene_a().encode("PNG"))
    return path


def jobs_in(url: str) -> int:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        row = conn.execute("SELECT count(*) FROM jobs").fetchone()
    assert row is not None
    return int(row[0])


def test_submit_before_migrate_says_to_migrate(png_file: Path) -> None:
    url = fresh_database("unmigrated")
    line = one_line_error(
        run("submit", str(png_file), "--task", "caption", IMAGEJOBS_DATABASE_URL=url)
    )
    assert "no imagejobs tables" in line and "imagejobs migrate" in line
    assert database_name("unmigrated") in line


def test_migrate_against_a_missing_database_names_it() -> None:
    missing = database_name("never_created")
    url = f"postgresql://postgres@127.0.0.1:5432/{missing}"
    line = one_line_error(run("migrate", IMAGEJOBS_DATABASE_URL=url))
    assert f'database "{missing}" does not exist' in line


@pytest.mark.parametrize("command", ["show", "watch"])
def test_an_unknown_job_id_is_named(database_url: str, command: str) -> None:
    assert one_line_error(run(command, UNKNOWN_ID)) == f"error: no job {UNKNOWN_ID}"


def test_overlay_of_an_unknown_job_or_into_a_missing_folder(
    database_url: str, tmp_path: Path
) -> None:
    line = one_line_error(run("overlay", UNKNOWN_ID, "-o", str(tmp_path / "out.png")))
    assert line == f"error: no job {UNKNOWN_ID}"
    line = one_line_error(run("overlay", UNKNOWN_ID, "-o", str(tmp_path / "nope" / "out.png")))
    assert f"there is no folder {tmp_path / 'nope'}" in line
    assert "is a directory" in one_line_error(run("overlay", UNKNOWN_ID, "-o", str(tmp_path)))


def test_an_api_that_is_down_is_named(png_file: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        api = f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed
    for args in (
        ("submit", str(png_file), "--task", "caption"),
        ("show", UNKNOWN_ID),
        ("watch", UNKNOWN_ID),
    ):
        line = one_line_error(run(*args, "--api", api, "--key", "ij_x"))
        assert f"cannot reach the API at {api}" in line


@pytest.mark.parametrize("remote", [False, True])
def test_a_directory_is_not_an_image(tmp_path: Path, database_url: str, remote: bool) -> None:
    extra = ("--api", "http://127.0.0.1:9", "--key", "ij_x") if remote else ()
    line = one_line_error(run("submit", str(tmp_path), "--task", "caption", *extra))
    assert line == f"error: {tmp_path} is a directory, not an image file"


def test_non_images_are_refused_before_anything_is_queued(
    database_url: str, tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\n")
    gif = tmp_path / "anim.gif"
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    gif.write_bytes(buffer.getvalue())
    before = jobs_in(database_url)
    for path, kind in ((text, "text"), (gif, "GIF")):
        result = run("submit", str(path), "--task", "caption")
        line = one_line_error(result)
        assert result.returncode == 2
        assert line.startswith(f"error: {path}: unsupported image type {kind} (by content)")
        assert "PNG, JPEG, WEBP, HEIC, HEIF" in line
    assert jobs_in(database_url) == before


def test_debug_shows_the_traceback(database_url: str) -> None:
    result = run("--debug", "show", UNKNOWN_ID)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "JobNotFound" in result.stderr
