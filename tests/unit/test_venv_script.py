"""scripts/_venv.sh says what a first run is doing (the install takes a minute), and nothing
once the environment is up to date. The venv's python is a stand-in that records its calls, so
nothing is installed."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

RECORDING_PYTHON = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls"
"""


def ensure_venv(project: Path) -> subprocess.CompletedProcess[str]:
    script = REPO / "scripts" / "_venv.sh"
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; source "{script}"; ensure_venv ".[demo]"'],
        capture_output=True,
        text=True,
        cwd=project,
        timeout=30,
    )


def test_first_install_is_announced_and_a_current_venv_is_quiet(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(RECORDING_PYTHON)
    python.chmod(0o755)

    first = ensure_venv(tmp_path)
    assert first.returncode == 0, first.stderr
    assert "installing imagejobs and its dependencies into .venv" in first.stderr
    assert "about a minute" in first.stderr
    calls = (python.parent / "calls").read_text()
    assert "pip install -q -e .[demo]" in calls

    again = ensure_venv(tmp_path)
    assert again.returncode == 0 and again.stderr == ""
