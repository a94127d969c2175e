"""How an attempt stops early: a permanent failure, or a lease that is no longer ours."""

from __future__ import annotations


class JobFailed(Exception):
    """A permanent failure: the job ends as failed with this code and message.

    Its text is ``"<code>: <message>"`` (what Flower shows for a failed task).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class LeaseLost(Exception):
    """Another worker owns the job now, or it was canceled: stop without writing."""
