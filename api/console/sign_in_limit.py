"""Failed sign-ins are limited per client address, so the operator's password cannot be guessed
at the speed of the network (API keys are 256-bit random; a password may not be).

A sign-in that succeeds does not wipe the count (or a producer's own key would let it guess the
operator's password forever, nine tries at a time): failures only age out of the window.
Kept in the API process's memory: each API process counts its own, and a restart forgets.
Behind a reverse proxy the address is the client's only when uvicorn trusts the proxy's
forwarded headers: ``imagejobs api`` does for a proxy on 127.0.0.1; for one elsewhere, set
``FORWARDED_ALLOW_IPS``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_FAILURES = 10  # failed sign-ins from one address ...
WINDOW_S = 600.0  # ... within this many seconds; then refused until the oldest leaves it
MAX_ADDRESSES = 10_000  # addresses remembered; the least recently seen are forgotten first


class SignInLimit:
    """The failed sign-ins of each client address within the last ``window_s`` seconds."""

    def __init__(
        self,
        *,
        max_failures: int = MAX_FAILURES,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> float | None:
        """Seconds until ``address`` may try again; None while it may."""
        with self._lock:
            failures = self._recent(address)
            if len(failures) < self.max_failures:
                return None
            return max(1.0, failures[0] + self.window_s - self._clock())

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self._clock())
            self._failures.move_to_end(address)
            while len(self._failures) > MAX_ADDRESSES:
                self._failures.popitem(last=False)

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        cutoff = self._clock() - self.window_s
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures
