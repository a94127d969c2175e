"""A small client for the emulator's ``/_emulator/`` test-control endpoints."""

from __future__ import annotations

import threading
from typing import Any

import httpx


class EmulatorControlError(RuntimeError):
    """The emulator refused a control request; the message carries its reason."""


class EmulatorControl:
    """One HTTP client, built on first use and kept (building one loads the CA store: tens of
    milliseconds of CPU, which a bench sampling ``stats()`` twice a second would pay each time).
    Safe to share between threads."""

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout_s)
            return self._client

    def set_faults(self, **fields: Any) -> dict[str, Any]:
        """Change fault fields (e.g. ``rate_429=1.0, retry_delay_s=3``); returns all faults."""
        return self._call("POST", "/_emulator/faults", fields)

    def get_faults(self) -> dict[str, Any]:
        return self._call("GET", "/_emulator/faults")

    def overload(self, model: str, for_s: float, rate: float = 1.0) -> dict[str, Any]:
        """``model`` (or ``*``) answers 503 "overloaded" to ``rate`` of its calls for ``for_s``
        seconds (0 ends it); returns all faults."""
        return self.set_faults(overload={model: {"for_s": for_s, "rate": rate}})

    def set_quota(self, **metrics: Any) -> dict[str, Any]:
        """Replace quota metrics: ``rpm=600`` (every model), ``tpm={"gemini-2.5-pro": 10_000}``,
        ``rpd=None`` (no limit), ``tier="paid"``; returns limits and usage."""
        return self._call("PUT", "/_emulator/quota", metrics)

    def get_quota(self) -> dict[str, Any]:
        """Limits, tier and usage per (project, model): last-minute requests and input tokens,
        requests today."""
        return self._call("GET", "/_emulator/quota")

    def script(self, responses: list[dict[str, Any]]) -> dict[str, Any]:
        """Queue exact answers for the next generate calls: ``{"text", "finishReason",
        "usageMetadata"}``, ``{"error": {"code", "status", "message", "retryDelay"}}`` or
        ``{"body": <whole GenerateContentResponse>}``."""
        return self._call("POST", "/_emulator/script", {"responses": responses})

    def clear_script(self) -> dict[str, Any]:
        return self._call("DELETE", "/_emulator/script")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_emulator/stats")

    def reset(self) -> dict[str, Any]:
        """Forget files, script and stats; faults back to the start-up values."""
        return self._call("POST", "/_emulator/reset")

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the emulator's clock forward (file processing delays and 48 h expiry)."""
        return self._call("POST", "/_emulator/clock", {"advance_s": seconds})

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._http().request(method, self.base_url + path, json=body)
        if response.status_code != 200:
            raise EmulatorControlError(f"{method} {path}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result
