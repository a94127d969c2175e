"""The one settings object: embedded defaults, production URLs, and errors that name the setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from imagejobs.settings import SettingsError, dump_public, load_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith(("IMAGEJOBS_", "GEMINI_", "GOOGLE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path


def test_unset_database_and_broker_mean_embedded_defaults(clean_env: Path) -> None:
    settings = load_settings(data_dir=clean_env / "state")
    assert settings.effective_database_url == f"sqlite:///{clean_env / 'state' / 'imagejobs.db'}"
    assert settings.effective_broker_url.startswith("sqla+sqlite:///")
    assert settings.uses_embedded_broker
    assert settings.effective_blob_dir == clean_env / "state" / "blobs"


def test_relative_folders_become_absolute_once(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGEJOBS_DATA_DIR", "rel/state")
    monkeypatch.setenv("IMAGEJOBS_BLOB_DIR", "rel/blobs")
    settings = load_settings()
    monkeypatch.chdir(clean_env.parent)  # where the process works later does not matter
    assert settings.data_dir == clean_env / "rel" / "state"
    assert settings.effective_blob_dir == clean_env / "rel" / "blobs"
    assert settings.effective_database_url == f"sqlite:///{clean_env / 'rel/state/imagejobs.db'}"
    assert settings.effective_broker_url == f"sqla+sqlite:///{clean_env / 'rel/state/broker.db'}"


def test_the_default_data_dir_is_the_users_not_the_working_directory(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(clean_env / "home"))
    settings = load_settings()
    assert settings.data_dir == clean_env / "home" / ".local" / "share" / "imagejobs"
    assert settings.effective_blob_dir == settings.data_dir / "blobs"
    monkeypatch.setenv("XDG_DATA_HOME", str(clean_env / "xdg"))
    assert load_settings().data_dir == clean_env / "xdg" / "imagejobs"


def test_production_urls_and_key_aliases(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGEJOBS_DATABASE_URL", "postgres://u:p@db/imagejobs")
    monkeypatch.setenv("IMAGEJOBS_BROKER_URL", "redis://redis:6379/0")
    monkeypatch.setenv("GEMINI_API_KEY", "secret-key")
    monkeypatch.setenv("IMAGEJOBS_INLINE_LIMIT_BYTES", "100000000")
    settings = load_settings()
    assert settings.effective_database_url == "postgresql+psycopg://u:p@db/imagejobs"
    assert not settings.uses_embedded_broker
    assert settings.api_key() == "secret-key"
    assert settings.inline_limit_bytes == 100_000_000
    assert "secret-key" not in repr(settings) and dump_public(settings)["gemini_api_key"] == "***"


def test_google_api_key_is_accepted_too(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "other-key")
    assert load_settings().api_key() == "other-key"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IMAGEJOBS_DATABASE_URL", "mysql://db/x"),
        ("IMAGEJOBS_BROKER_URL", "kafka://broker"),
        ("IMAGEJOBS_GEMINI_BASE_URL", "localhost:8765"),
        ("IMAGEJOBS_INLINE_LIMIT_BYTES", "-5"),
        ("IMAGEJOBS_MAX_ATTEMPTS", "many"),
    ],
)
def test_a_wrong_setting_is_named(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_worker_refuses_to_start_without_a_way_to_reach_gemini(clean_env: Path) -> None:
    env = {k: v for k, v in os.environ.items()}
    env["IMAGEJOBS_DATA_DIR"] = str(clean_env / "state")
    result = subprocess.run(
        [sys.executable, "-m", "cli", "worker"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 2
    assert "GEMINI_API_KEY" in result.stderr and "IMAGEJOBS_GEMINI_BASE_URL" in result.stderr


def test_cli_names_a_bad_setting(clean_env: Path) -> None:
    env = {**os.environ, "IMAGEJOBS_DATABASE_URL": "mysql://db/x"}
    result = subprocess.run(
        [sys.executable, "-m", "cli", "migrate"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 2
    assert "IMAGEJOBS_DATABASE_URL" in result.stderr


def test_task_models_name_known_tasks() -> None:
    settings = load_settings(task_models={"caption": "gemini-3.5-flash"})
    assert settings.task_models == {"caption": "gemini-3.5-flash"}
    with pytest.raises(SettingsError, match=r"IMAGEJOBS_TASK_MODELS: .*unknown task.*captions"):
        load_settings(task_models={"captions": "gemini-3.5-flash"})
