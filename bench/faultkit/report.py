"""What a scenario found: its figures and its checks, printed and written as JSON.

A check is either an invariant (0 lost, 0 duplicates, workers alive, …), which the short form in
tests/faults asserts, or a timed target (``timed``: e.g. drained within 20 s of Redis coming
back), which only the printed figures show: timings on a shared 2-core machine are figures, not
test assertions.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Value = int | float | str | None


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    timed: bool = False


@dataclass
class ScenarioResult:
    name: str
    title: str
    scale: str
    figures: list[tuple[str, Value]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def figure(self, label: str, value: Value) -> None:
        self.figures.append((label, value))

    def check(self, name: str, ok: bool, detail: str = "", *, timed: bool = False) -> None:
        self.checks.append(Check(name, bool(ok), detail, timed))

    @property
    def passed(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def invariants_hold(self) -> bool:
        return all(check.ok for check in self.checks if not check.timed)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScenarioResult:
        """Back from :meth:`as_dict` (what ``--json`` wrote)."""
        return cls(
            name=data["name"],
            title=data["title"],
            scale=data["scale"],
            figures=[(label, value) for label, value in data["figures"]],
            checks=[Check(**check) for check in data["checks"]],
            notes=list(data["notes"]),
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["figures"] = [[label, value] for label, value in self.figures]
        data["passed"] = self.passed
        data["invariants_hold"] = self.invariants_hold
        return data


def _show(value: Value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def format_result(result: ScenarioResult) -> str:
    width = max((len(label) for label, _ in result.figures), default=10) + 2
    lines = [f"== {result.name} ({result.scale}): {result.title}"]
    lines += [f"   {label:<{width}}{_show(value)}" for label, value in result.figures]
    for check in result.checks:
        mark = "PASS" if check.ok else "FAIL"
        kind = " (timed target)" if check.timed else ""
        detail = f": {check.detail}" if check.detail else ""
        lines.append(f"   {mark} {check.name}{kind}{detail}")
    lines += [f"   note: {note}" for note in result.notes]
    return "\n".join(lines)


def write_json(results: list[ScenarioResult], path: Path) -> None:
    path.write_text(json.dumps([result.as_dict() for result in results], indent=2) + "\n")


def run_each(
    names: list[str],
    run: Callable[[str], ScenarioResult],
    *,
    noun: str,
    title_of: Callable[[str], str],
    scale: str,
    json_path: Path | None,
    timed: bool = False,
) -> list[ScenarioResult]:
    """Run each named ``noun`` (a scenario, a part), printing its result as it ends (and the
    JSON of all so far when asked); one that raises is a failed result, and the rest still run.
    ``timed`` adds each one's wall time as a figure."""
    results: list[ScenarioResult] = []
    for name in names:
        began = time.monotonic()
        try:
            result = run(name)
        except Exception as exc:
            result = ScenarioResult(name, title_of(name), scale)
            result.check(f"{noun} ran to the end", False, f"{type(exc).__name__}: {exc}")
            result.notes.append(traceback.format_exc(limit=8))
        if timed:
            result.figure(f"{noun}'s wall time (s)", round(time.monotonic() - began))
        results.append(result)
        print(format_result(result), flush=True)
        if json_path:
            write_json(results, json_path)
    return results


def summary(label: str, nouns: str, results: list[ScenarioResult], began: float) -> int:
    """Print how many passed every check; the exit code (1 if any failed)."""
    failed = [result.name for result in results if not result.passed]
    print(
        f"{label}: {len(results) - len(failed)}/{len(results)} {nouns} passed every check"
        + (f" (failed: {', '.join(failed)})" if failed else "")
        + f" in {time.monotonic() - began:.0f} s"
    )
    return 1 if failed else 0
