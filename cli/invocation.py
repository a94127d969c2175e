"""What one command of the CLI works with: the settings, read once, and the runtime built from
them on first use (a command that needs neither, like ``--help``, reads nothing)."""

from __future__ import annotations

import typer

from imagejobs.runtime import Runtime
from imagejobs.settings import Settings, get_settings


class Invocation:
    """The settings and the :class:`Runtime` of one command, each built when first asked for."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._runtime: Runtime | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings()
        return self._settings

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.from_settings(self.settings)
        return self._runtime

    @property
    def database_url(self) -> str | None:
        """The database URL, if the settings were read (error messages name it)."""
        return self._settings.effective_database_url if self._settings is not None else None

    def close(self) -> None:
        """Close the broker connection. The database engine is the process's, left open."""
        if self._runtime is not None:
            self._runtime.queue.close()


def invocation(ctx: typer.Context) -> Invocation:
    """The command's :class:`Invocation` (made by the root command, or here when run alone)."""
    return ctx.ensure_object(Invocation)
