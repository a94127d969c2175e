"""A small client for the emulator's ``/_emulator/`` test-control endpoints."""

from __future__ import annotations

from typing import Any

import httpx


class EmulatorControlError(RuntimeError):
    """The emulator refused a control request; the message carries its reason."""


class EmulatorControl:
    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def set_faults(self, **fields: Any) -> dict[str, Any]:
        """Change fault fields (e.g. ``rate_429=1.0, retry_delay_s=3``); returns all faults."""
        return self._call("POST", "/_emulator/faults", fields)

    def get_faults(self) -> dict[str, Any]:
        return self._call("GET", "/_emulator/faults")

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
        response = httpx.request(method, self.base_url + path, json=body, timeout=self.timeout_s)
        if response.status_code != 200:
            raise EmulatorControlError(f"{method} {path}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result
