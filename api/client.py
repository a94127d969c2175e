"""Python client for the imagejobs HTTP API, sync (:class:`ImageJobsClient`) and async
(:class:`AsyncImageJobsClient`), plus :func:`verify_webhook` for receivers.

Images for :meth:`submit` may be file paths, raw bytes, ``"http(s)://..."`` URLs, or dicts
(``{"url": ...}`` / ``{"data": "<base64>", "filename": ...}``). Files and bytes are uploaded as
multipart; everything else travels in JSON. Errors raise :class:`ImageJobsError` carrying the
problem document.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from api.client_usage import AsyncUsageCalls, UsageCalls
from imagejobs.core.jobspec import FINAL_STATUSES
from imagejobs.webhooks.signing import verify

ImageArg = str | Path | bytes | Mapping[str, Any]
Progress = Callable[[dict[str, Any]], None]

__all__ = [
    "AsyncImageJobsClient",
    "ImageJobsClient",
    "ImageJobsError",
    "JobWaitTimeout",
    "verify_webhook",
]


class ImageJobsError(Exception):
    """The API answered with an error; ``problem`` is its RFC 9457 document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        detail = problem.get("detail") or problem.get("title") or "error"
        super().__init__(f"HTTP {status}: {detail}")


class JobWaitTimeout(TimeoutError):
    """The job was not final in time; ``job`` is the last state seen."""

    def __init__(self, job: dict[str, Any], timeout_s: float) -> None:
        self.job = job
        super().__init__(f"job {job.get('id')} still {job.get('status')} after {timeout_s} s")


def verify_webhook(headers: Mapping[str, str], body: bytes | str, secret: str) -> dict[str, Any]:
    """Check a webhook's Standard Webhooks signature; return the event.

    Raises ``standardwebhooks.webhooks.WebhookVerificationError`` when it does not verify.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    lowered = {k.lower(): v for k, v in headers.items()}
    return verify(lowered, raw, secret)


def _submit_request(
    images: Sequence[ImageArg], fields: dict[str, Any], idempotency_key: str | None
) -> dict[str, Any]:
    """The keyword arguments for ``httpx`` to POST a job."""
    json_images: list[dict[str, Any]] = []
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    for index, image in enumerate(images):
        if isinstance(image, Mapping):
            json_images.append(dict(image))
        elif isinstance(image, bytes):
            files.append(("images", (f"image{index}", image, "application/octet-stream")))
        elif isinstance(image, str) and image.startswith(("http://", "https://")):
            json_images.append({"url": image})
        elif isinstance(image, str | Path):
            path = Path(image)
            if not path.is_file():
                raise FileNotFoundError(f"image {index + 1}: no such file {path}")
            files.append(("images", (path.name, path.read_bytes(), "application/octet-stream")))
        else:
            raise TypeError(f"image {index + 1}: expected a path, bytes, URL or dict")
    body = {k: v for k, v in fields.items() if v is not None}
    if isinstance(body.get("deadline"), datetime):
        body["deadline"] = body["deadline"].isoformat()
    if json_images:
        body["images"] = json_images
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    if files:
        return {"data": {"job": json.dumps(body)}, "files": files, "headers": headers}
    return {"json": body, "headers": headers}


def _list_params(**filters: Any) -> dict[str, Any]:
    params = {}
    for name, value in filters.items():
        if value is None:
            continue
        params[name] = value.isoformat() if isinstance(value, datetime) else value
    return params


def _check(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text[:500]}
        if not isinstance(problem, dict):
            problem = {"detail": str(problem)}
        raise ImageJobsError(response.status_code, problem)
    return response


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": "imagejobs-client/0.1"}


class _Backoff:
    def __init__(self, initial: float, maximum: float) -> None:
        self.delay = initial
        self.maximum = maximum

    def next(self) -> float:
        delay = self.delay
        self.delay = min(self.delay * 1.5, self.maximum)
        return delay


class ImageJobsClient(UsageCalls):
    """Blocking client. Use as a context manager, or call :meth:`close`.

    Also :meth:`usage` and :meth:`stats` (:mod:`api.client_usage`).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=_headers(api_key),
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> ImageJobsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        return _check(self._http.request(method, url, **kwargs)).json()

    def submit(
        self,
        images: Sequence[ImageArg],
        *,
        task: str,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Submit a job; returns the job resource (status ``queued``)."""
        request = _submit_request(images, {"task": task, **fields}, idempotency_key)
        return dict(self._json("POST", "/v1/jobs", **request))

    def get(self, job_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/v1/jobs/{job_id}"))

    def wait(
        self,
        job_id: str,
        *,
        timeout: float = 600.0,
        poll_initial: float = 0.2,
        poll_max: float = 5.0,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Poll with backoff until the job is final; ``progress`` sees every state polled."""
        deadline = time.monotonic() + timeout
        backoff = _Backoff(poll_initial, poll_max)
        while True:
            job = self.get(job_id)
            if progress is not None:
                progress(job)
            if job["status"] in FINAL_STATUSES:
                return job
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise JobWaitTimeout(job, timeout)
            time.sleep(min(backoff.next(), remaining))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return dict(self._json("POST", f"/v1/jobs/{job_id}/cancel"))

    def list_page(
        self,
        *,
        status: str | None = None,
        task: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """One page: ``{"items": [...], "next_cursor": ...}``."""
        params = _list_params(
            status=status,
            task=task,
            created_after=created_after,
            created_before=created_before,
            cursor=cursor,
            limit=limit,
        )
        return dict(self._json("GET", "/v1/jobs", params=params))

    def list(self, *, page_size: int = 50, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every job matching ``filters`` (status, task, created_after, created_before)."""
        cursor = None
        while True:
            page = self.list_page(cursor=cursor, limit=page_size, **filters)
            yield from page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return

    def overlay(self, job_id: str, *, image: int = 0) -> bytes:
        response = _check(self._http.get(f"/v1/jobs/{job_id}/overlay.png", params={"image": image}))
        return response.content

    def deliveries(self, job_id: str) -> builtins.list[dict[str, Any]]:
        return list(self._json("GET", f"/v1/jobs/{job_id}/deliveries")["items"])

    def replay(self, delivery_id: str) -> dict[str, Any]:
        return dict(self._json("POST", f"/v1/deliveries/{delivery_id}/replay"))

    def rotate_webhook_secret(self, *, finish: bool = False) -> builtins.list[str]:
        body = {"finish": finish}
        return list(self._json("POST", "/v1/webhook-secret/rotate", json=body)["secrets"])

    def list_keys(self) -> builtins.list[dict[str, Any]]:
        """This producer's API keys (id, prefix, created_at, revoked_at, active), newest first."""
        return list(self._json("GET", "/v1/keys")["items"])

    def create_key(self) -> dict[str, Any]:
        """A new API key for this producer; ``["api_key"]`` is shown this once."""
        return dict(self._json("POST", "/v1/keys"))

    def revoke_key(self, key_id: str, *, force: bool = False) -> dict[str, Any]:
        """Revoke a key by id; the last active key only with ``force``."""
        params = {"force": "true"} if force else {}
        return dict(self._json("DELETE", f"/v1/keys/{key_id}", params=params))

    def health(self) -> dict[str, Any]:
        return dict(self._json("GET", "/healthz"))

    verify_webhook = staticmethod(verify_webhook)


class AsyncImageJobsClient(AsyncUsageCalls):
    """The same API for asyncio code."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=_headers(api_key),
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> AsyncImageJobsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        return _check(await self._http.request(method, url, **kwargs)).json()

    async def submit(
        self,
        images: Sequence[ImageArg],
        *,
        task: str,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        request = _submit_request(images, {"task": task, **fields}, idempotency_key)
        return dict(await self._json("POST", "/v1/jobs", **request))

    async def get(self, job_id: str) -> dict[str, Any]:
        return dict(await self._json("GET", f"/v1/jobs/{job_id}"))

    async def wait(
        self,
        job_id: str,
        *,
        timeout: float = 600.0,
        poll_initial: float = 0.2,
        poll_max: float = 5.0,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        backoff = _Backoff(poll_initial, poll_max)
        while True:
            job = await self.get(job_id)
            if progress is not None:
                progress(job)
            if job["status"] in FINAL_STATUSES:
                return job
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise JobWaitTimeout(job, timeout)
            await asyncio.sleep(min(backoff.next(), remaining))

    async def cancel(self, job_id: str) -> dict[str, Any]:
        return dict(await self._json("POST", f"/v1/jobs/{job_id}/cancel"))

    async def list_page(
        self,
        *,
        status: str | None = None,
        task: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        params = _list_params(
            status=status,
            task=task,
            created_after=created_after,
            created_before=created_before,
            cursor=cursor,
            limit=limit,
        )
        return dict(await self._json("GET", "/v1/jobs", params=params))

    async def list(self, *, page_size: int = 50, **filters: Any) -> AsyncIterator[dict[str, Any]]:
        cursor = None
        while True:
            page = await self.list_page(cursor=cursor, limit=page_size, **filters)
            for item in page["items"]:
                yield item
            cursor = page["next_cursor"]
            if not cursor:
                return

    async def overlay(self, job_id: str, *, image: int = 0) -> bytes:
        response = await self._http.get(f"/v1/jobs/{job_id}/overlay.png", params={"image": image})
        return _check(response).content

    async def deliveries(self, job_id: str) -> builtins.list[dict[str, Any]]:
        return list((await self._json("GET", f"/v1/jobs/{job_id}/deliveries"))["items"])

    async def replay(self, delivery_id: str) -> dict[str, Any]:
        return dict(await self._json("POST", f"/v1/deliveries/{delivery_id}/replay"))

    async def rotate_webhook_secret(self, *, finish: bool = False) -> builtins.list[str]:
        body = {"finish": finish}
        return list((await self._json("POST", "/v1/webhook-secret/rotate", json=body))["secrets"])

    async def list_keys(self) -> builtins.list[dict[str, Any]]:
        return list((await self._json("GET", "/v1/keys"))["items"])

    async def create_key(self) -> dict[str, Any]:
        return dict(await self._json("POST", "/v1/keys"))

    async def revoke_key(self, key_id: str, *, force: bool = False) -> dict[str, Any]:
        params = {"force": "true"} if force else {}
        return dict(await self._json("DELETE", f"/v1/keys/{key_id}", params=params))

    async def health(self) -> dict[str, Any]:
        return dict(await self._json("GET", "/healthz"))

    verify_webhook = staticmethod(verify_webhook)
