"""The fault scenarios by name, with what each does (shared by the CLI, the runner and tests)."""

from __future__ import annotations

SCENARIOS: dict[str, str] = {
    "worker_kill": "a worker host SIGKILLed mid-call; its jobs are taken over after their lease",
    "redis_wipe": "the broker killed and restarted empty, mid-run and with threads idle",
    "postgres_restart": "Postgres restarted mid-run, while finishing writes are in progress",
    "storm_429": "a window of 429s with retryDelay on most Gemini calls",
    "poison": "poison jobs (a corrupt image, an answer cut short) among good jobs",
}
