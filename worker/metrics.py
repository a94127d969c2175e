"""A worker host's ``/metrics`` (``IMAGEJOBS_METRICS_PORT``), served by one process per host.

Under the supervisor, the children count into a prometheus_client multiprocess folder (named in
their environment before they import anything) and the supervisor serves the sum; the children
are started with the port unset, so none of them serves it too. A worker that consumes in its
own process (the embedded broker, ``--child``) serves its own metrics. The queue depth is the
API's to serve (README "Metrics").
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from imagejobs.observability.auth import credentials
from imagejobs.observability.multiproc import MetricsDir, exposition_registry
from imagejobs.observability.server import MetricsEndpoint
from imagejobs.settings import Settings, SettingsError


@dataclass
class HostMetrics:
    """The endpoint (None: metrics off) and, under a supervisor, the children's folder."""

    endpoint: MetricsEndpoint | None = None
    folder: MetricsDir | None = None

    def child_env(self) -> dict[str, str]:
        """What the children need in their environment (nothing when metrics are off)."""
        if self.folder is None:
            return {}
        return {**self.folder.child_env(), "IMAGEJOBS_METRICS_PORT": ""}

    def child_exited(self, pid: int) -> None:
        if self.folder is not None:
            self.folder.process_dead(pid)


@contextmanager
def host_metrics(settings: Settings, *, children: bool) -> Iterator[HostMetrics]:
    """Serve this host's metrics while the block runs (``children``: summed from the
    supervisor's children, else this process's own)."""
    if settings.metrics_port is None:
        yield HostMetrics()
        return
    folder: MetricsDir | None = None
    try:
        folder = MetricsDir.prepare(settings.metrics_dir) if children else None
        registry = folder.registry() if folder is not None else exposition_registry()
        endpoint = MetricsEndpoint(
            registry,
            settings.metrics_address,
            settings.metrics_port,
            credentials(settings.metrics_basic_auth),
        ).start()
    except OSError as exc:
        if folder is not None:
            folder.close()
        raise SettingsError(str(exc)) from exc
    # The supervisor has no log handler of its own: say where the metrics are on stderr.
    print(f"metrics on http://{settings.metrics_address}:{endpoint.port}/metrics", file=sys.stderr)
    try:
        yield HostMetrics(endpoint, folder)
    finally:
        endpoint.stop()
        if folder is not None:
            folder.close()
