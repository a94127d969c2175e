"""The results console: server-rendered pages for people (jobs, overlays, usage, deliveries,
submitting, spend), signed in with an API key or the operator credential."""

from api.console.mount import mount_console

__all__ = ["mount_console"]
