"""Upstream governance shared by every worker process and host, on Redis: the quota limiter per
(Gemini project, model), the circuit breaker, and budget reservations per producer.

Each piece is one atomic step on Redis (a Lua script, or a WATCH transaction running the pure
policy from ``imagejobs.core``), never blocks a thread for long, and names its keys under
``imagejobs:`` with a hash tag per (project, model) or producer, so a key set stays in one slot.
Project names are labels chosen in settings, never API keys: nothing secret is put in Redis.
"""

from imagejobs.governance.breaker import Permit, SharedBreaker
from imagejobs.governance.budget import BudgetStore, Reservation
from imagejobs.governance.limiter import AdaptiveTuning, Grant, SharedLimiter, Wait

__all__ = [
    "AdaptiveTuning",
    "BudgetStore",
    "Grant",
    "Permit",
    "Reservation",
    "SharedBreaker",
    "SharedLimiter",
    "Wait",
]
