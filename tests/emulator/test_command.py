"""The ``imagejobs emulator`` command maps its flags onto EmulatorConfig and runs uvicorn."""

from __future__ import annotations

from typing import Any

import pytest
import typer
import uvicorn
from typer.testing import CliRunner

from imagejobs.emulator.command import emulator_command


def run_cli(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> tuple[Any, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def fake_run(self: uvicorn.Server, sockets: Any = None) -> None:
        seen["config"] = self.config

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    app = typer.Typer()
    app.command("emulator")(emulator_command)
    app.command("other")(lambda: None)
    return CliRunner().invoke(app, ["emulator", *args]), seen


def test_flags_map_onto_config_and_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    result, seen = run_cli(
        monkeypatch,
        [
            "--port",
            "9999",
            "--latency",
            "2",
            "--jitter",
            "0.5",
            "--rate-429",
            "0.25",
            "--retry-delay",
            "3",
            "--rate-500",
            "0.1",
            "--rate-503",
            "0.2",
            "--processing-delay",
            "4",
            "--upload-failure-rate",
            "0.3",
            "--file-stuck-processing",
            "--file-failed-rate",
            "0.4",
            "--inline-limit-bytes",
            "1000",
        ],
    )
    assert result.exit_code == 0, result.output
    config = seen["config"]
    assert config.port == 9999 and config.backlog >= 2048 and config.access_log is False
    state = config.app.state.emulator
    assert state.config.inline_limit_bytes == 1000
    faults = state.faults
    assert (faults.latency_s, faults.jitter_s, faults.rate_429, faults.retry_delay_s) == (
        2,
        0.5,
        0.25,
        3,
    )
    assert (faults.rate_500, faults.rate_503, faults.processing_delay_s) == (0.1, 0.2, 4)
    assert (faults.upload_failure_rate, faults.file_stuck_processing, faults.file_failed_rate) == (
        0.3,
        True,
        0.4,
    )


def test_bad_flag_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    result, seen = run_cli(monkeypatch, ["--rate-429", "3"])
    assert result.exit_code != 0 and "rate_429" in result.output and "config" not in seen


def test_quota_flags_for_every_model_and_per_model(monkeypatch: pytest.MonkeyPatch) -> None:
    result, seen = run_cli(
        monkeypatch,
        [
            "--rpm",
            "600",
            "--rpm",
            "gemini-2.5-pro=150",
            "--tpm",
            "gemini-3.5-flash=1000000",
            "--rpd",
            "10000",
            "--quota-tier",
            "paid",
        ],
    )
    assert result.exit_code == 0, result.output
    quotas = seen["config"].app.state.emulator.quotas
    assert quotas.rpm == {"*": 600, "gemini-2.5-pro": 150}
    assert quotas.tpm == {"gemini-3.5-flash": 1_000_000}
    assert (quotas.rpd, quotas.tier) == ({"*": 10_000}, "paid")


def test_bad_quota_flag_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    result, seen = run_cli(monkeypatch, ["--rpm", "gemini-2.5-flsh=5"])
    assert result.exit_code != 0 and "gemini-2.5-flsh" in result.output and "config" not in seen
