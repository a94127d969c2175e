"""Each goal of issue 12 as one line: the figure, its anchor measured in the same run, the ratio
and the goal, and whether it is met."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    name: str
    figure: str
    anchor: str
    ratio: float | None
    goal: str | None  # "<= 1.5", ">= 0.9"; None: a figure to print, no bound to meet

    @property
    def met(self) -> bool | None:
        if self.goal is None or self.ratio is None:
            return None
        bound = float(self.goal.split()[-1])
        return self.ratio <= bound if self.goal.startswith("<=") else self.ratio >= bound


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def print_goals(goals: list[Goal]) -> None:
    print("\nissue 12 goals, measured in this run")
    width = max((len(goal.name) for goal in goals), default=10)
    for goal in goals:
        print(f"  {goal.name:<{width}}  {goal.figure}")
        print(f"  {'':<{width}}    anchor: {goal.anchor}")
        if goal.met is None:
            print(f"  {'':<{width}}    (a figure to print; the issue sets no bound)")
            continue
        verdict = "met" if goal.met else "NOT MET"
        print(f"  {'':<{width}}    ratio {goal.ratio:.2f}, goal {goal.goal}: {verdict}")


def cpu_line(what: str, cpu: dict[str, float], count: int) -> str:
    """CPU per item of every process that took part (``bench``: the bench's own process, which
    submits or sends, and polls), and the rate the machine's cores could sustain at that cost."""
    total = sum(cpu.values())
    parts = " + ".join(f"{name} {ms(seconds / count)}" for name, seconds in cpu.items())
    cores = os.cpu_count() or 1
    return (
        f"CPU for {what}: {parts} = {ms(total / count)}: "
        f"{cores} cores sustain at most {cores * count / total:.0f}/s"
    )
