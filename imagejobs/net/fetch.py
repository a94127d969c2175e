"""A guarded HTTP client: every connection goes to an address the guard checked.

How the connection is pinned: the URL's host is resolved once by :func:`resolve_checked`, the
request URL is rewritten to that IP, the original host goes into the ``Host`` header and, for
https, into the ``sni_hostname`` request extension, which httpcore uses as the TLS
``server_hostname`` -- so SNI and certificate verification still check the original name while
the socket goes to the checked IP (DNS rebinding cannot switch it). Environment proxies are
ignored (``trust_env=False``) because a proxy would make the pinning meaningless. Both http and
https are tested against local servers (https with a throwaway self-signed certificate: the
socket goes to the checked IP, SNI and the certificate check use the URL's name); real internet
https is not exercised offline but takes exactly this code path.

Redirects are followed by hand for GET (each hop re-checked by the guard) and never for POST.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from imagejobs.net.errors import UnresolvableHost, URLRefused
from imagejobs.net.guard import Allowlist, ParsedURL, Resolver, check_url

if TYPE_CHECKING:
    from imagejobs.settings import Settings

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRYABLE_STATUSES = frozenset({408, 425, 429})
USER_AGENT = "imagejobs/0.1"
SNIPPET_BYTES = 1024


class FetchError(RuntimeError):
    """A fetch failed: too large, timed out, bad status, too many redirects, connection error.

    ``retryable`` says whether trying again later may help (timeouts, connection errors, 5xx).
    """

    def __init__(
        self, message: str, *, url: str, status: int | None = None, retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True)
class FetchResult:
    url: str  # the final URL, after redirects
    status: int
    headers: dict[str, str]  # lower-case names
    content: bytes


@dataclass(frozen=True)
class PostResult:
    status: int
    headers: dict[str, str]  # lower-case names
    body_snippet: str  # at most the first 1 KB of the body, decoded leniently


def redact_url(url: str) -> str:
    """``url`` without query and fragment (they may carry signed tokens), for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class GuardedFetcher:
    """Fetches images (GET, redirects re-checked) and posts webhooks (no redirects) safely."""

    def __init__(
        self,
        allowlist: Sequence[str] = (),
        max_bytes: int = 64 * 1024 * 1024,
        timeout_s: float = 30.0,
        max_redirects: int = 5,
        resolver: Resolver = socket.getaddrinfo,
        *,
        user_agent: str = USER_AGENT,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if max_redirects < 0:
            raise ValueError(f"max_redirects must be >= 0, got {max_redirects}")
        self.allowlist = Allowlist.parse(allowlist)
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.max_redirects = max_redirects
        self.resolver = resolver
        self.user_agent = user_agent
        self.verify = verify

    @classmethod
    def from_settings(cls, settings: Settings, *, for_webhooks: bool = False) -> GuardedFetcher:
        """The image fetcher (or, with ``for_webhooks``, the webhook sender's) from settings.

        An image is never fetched past the size the pipeline would accept anyway.
        """
        if for_webhooks:
            return cls(
                allowlist=settings.url_allowlist,
                max_bytes=settings.fetch_max_bytes,
                timeout_s=settings.webhook_timeout_s,
            )
        return cls(
            allowlist=settings.url_allowlist,
            max_bytes=min(settings.fetch_max_bytes, settings.max_image_bytes),
            timeout_s=settings.fetch_timeout_s,
        )

    # --- public -------------------------------------------------------------------------------

    def get(self, url: str) -> FetchResult:
        """GET ``url`` and return the whole body; raises FetchError, BlockedAddress, InvalidURL."""
        deadline = time.monotonic() + self.timeout_s
        current = url
        for hop in range(self.max_redirects + 1):
            parsed, ip = self._check(current, hop=hop, previous=url)
            headers = {"Accept": "*/*", "Accept-Encoding": "identity"}
            with self._send("GET", parsed, ip, headers, None, deadline) as response:
                status = response.status_code
                if status in REDIRECT_STATUSES and response.headers.get("location"):
                    current = urljoin(current, response.headers["location"].strip())
                    continue
                if not 200 <= status < 300:
                    raise FetchError(
                        f"bad status {status} from {redact_url(current)}",
                        url=current,
                        status=status,
                        retryable=status in RETRYABLE_STATUSES or status >= 500,
                    )
                content = self._read_limited(response, current, deadline)
                return FetchResult(current, status, _headers(response), content)
        raise FetchError(
            f"too many redirects (more than {self.max_redirects}) from {redact_url(url)}",
            url=url,
        )

    def post(self, url: str, content: bytes, headers: Mapping[str, str]) -> PostResult:
        """POST ``content``; any status (3xx included, never followed) is returned, not raised.

        Raises BlockedAddress/InvalidURL (nothing sent) and FetchError (connection, timeout).
        """
        deadline = time.monotonic() + self.timeout_s
        parsed, ip = self._check(url)
        with self._send("POST", parsed, ip, dict(headers), content, deadline) as response:
            snippet = self._read_snippet(response, url, deadline)
            return PostResult(response.status_code, _headers(response), snippet)

    # --- internals ----------------------------------------------------------------------------

    def _check(self, url: str, *, hop: int = 0, previous: str = "") -> tuple[ParsedURL, str]:
        try:
            return check_url(url, allowlist=self.allowlist, resolver=self.resolver)
        except UnresolvableHost as exc:
            raise FetchError(str(exc), url=url, retryable=True) from None
        except URLRefused as exc:  # InvalidURL or BlockedAddress, renamed with the hop
            if hop == 0:
                raise
            where = f" (redirect hop {hop} from {redact_url(previous)})"
            raise type(exc)(f"{exc}{where}") from None

    @contextmanager
    def _send(
        self,
        method: str,
        parsed: ParsedURL,
        ip: str,
        headers: dict[str, str],
        content: bytes | None,
        deadline: float,
    ) -> Iterator[httpx.Response]:
        """Open a streamed request to the checked ``ip``; maps transport errors to FetchError."""
        ip_host = f"[{ip}]" if ":" in ip else ip
        pinned = f"{parsed.scheme}://{ip_host}:{parsed.port}{parsed.target}"
        all_headers = {"User-Agent": self.user_agent, **headers, "Host": parsed.host_header}
        extensions: dict[str, Any] = {}
        if parsed.scheme == "https" and not parsed.is_ip:
            extensions["sni_hostname"] = parsed.host
        url = parsed.url
        try:
            with httpx.Client(trust_env=False, follow_redirects=False, verify=self.verify) as c:
                request = c.build_request(
                    method,
                    pinned,
                    headers=all_headers,
                    content=content,
                    extensions=extensions,
                    timeout=httpx.Timeout(self._remaining(url, deadline)),
                )
                response = c.send(request, stream=True)
                try:
                    yield response
                finally:
                    response.close()
        except httpx.TimeoutException:
            raise self._timeout(url) from None
        except httpx.HTTPError as exc:
            message = f"could not fetch {redact_url(url)}: {type(exc).__name__}: {exc}"
            raise FetchError(message, url=url, retryable=True) from None

    def _read_limited(self, response: httpx.Response, url: str, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(url, f"declares {declared} bytes")
        chunks: list[bytes] = []
        total = 0
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > self.max_bytes:
                raise self._too_large(url, f"sent more than {self.max_bytes} bytes")
            chunks.append(chunk)
            self._remaining(url, deadline)
        return b"".join(chunks)

    def _read_snippet(self, response: httpx.Response, url: str, deadline: float) -> str:
        data = b""
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= SNIPPET_BYTES:
                break
            self._remaining(url, deadline)
        return data[:SNIPPET_BYTES].decode("utf-8", errors="replace")

    def _remaining(self, url: str, deadline: float) -> float:
        """Seconds left before ``deadline``; raises the timeout FetchError when none are."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._timeout(url)
        return left

    def _timeout(self, url: str) -> FetchError:
        return FetchError(
            f"timed out after {self.timeout_s:g} s fetching {redact_url(url)}",
            url=url,
            retryable=True,
        )

    def _too_large(self, url: str, detail: str) -> FetchError:
        return FetchError(
            f"response from {redact_url(url)} is too large: {detail} (limit {self.max_bytes})",
            url=url,
        )


def _headers(response: httpx.Response) -> dict[str, str]:
    return {name.lower(): value for name, value in response.headers.items()}
