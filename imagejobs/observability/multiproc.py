"""A worker host's prometheus_client multiprocess folder, and what a ``/metrics`` shows.

The supervisor prepares one folder per start (emptied, or a fresh temporary one), names it to
its children in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client reads it when it is imported, so
it must be in the child's environment from the start), tells the folder when a child died (its
live gauges go; its counters stay, so a restart loses no count) and serves the sum of every
child's files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class MetricsDir:
    """The folder the children of one worker host write their metrics to."""

    path: Path
    owned: bool  # a temporary folder made for this start: removed by close()

    @classmethod
    def prepare(cls, configured: Path | None) -> MetricsDir:
        """The configured folder emptied of metric files (created if missing), or a new
        temporary folder."""
        if configured is None:
            return cls(Path(tempfile.mkdtemp(prefix="imagejobs-metrics-")), owned=True)
        try:
            configured.mkdir(parents=True, exist_ok=True)
            for stale in configured.glob("*.db"):
                stale.unlink()
        except OSError as exc:
            raise OSError(f"IMAGEJOBS_METRICS_DIR {configured}: {exc.strerror or exc}") from exc
        return cls(configured, owned=False)

    def child_env(self) -> dict[str, str]:
        return {ENV: str(self.path)}

    def process_dead(self, pid: int) -> None:
        """Forget the live gauges (calls in flight) of a child that exited."""
        mark_process_dead(pid, str(self.path))

    def registry(self) -> CollectorRegistry:
        """A registry that reads every child's files at each scrape."""
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.path))
        return registry

    def close(self) -> None:
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)


def exposition_registry() -> CollectorRegistry:
    """What this process's ``/metrics`` shows: the multiprocess folder named in the environment
    (e.g. an API run with several server processes), else this process's own metrics."""
    path = os.environ.get(ENV)
    if path:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=path)
        return registry
    return REGISTRY
