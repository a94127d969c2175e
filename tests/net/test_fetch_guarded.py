"""GuardedFetcher against real local servers: the address-guard table, redirects, limits."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from imagejobs.net import BlockedAddress, FetchError, GuardedFetcher, InvalidURL

IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

# (host as written in the URL, whether it reaches our 127.0.0.1 server when allowlisted)
GUARD_TABLE = [
    ("127.0.0.1", True),
    ("10.0.0.1", False),
    ("172.16.0.1", False),
    ("192.168.0.1", False),
    ("169.254.169.254", False),
    ("100.64.0.1", False),
    ("[::1]", False),
    ("[::ffff:127.0.0.1]", True),
    ("0.0.0.0", False),
    ("2130706433", True),
    ("0177.0.0.1", True),
    ("0x7f.1", True),
    ("127.1", True),
    ("loopback.example", True),  # a name the fake resolver maps to 127.0.0.1
]
NAMES = {"loopback.example": "127.0.0.1", "images.example": "127.0.0.1"}


def fetcher(resolver: Any, allowlist: tuple[str, ...] = (), **kwargs: Any) -> GuardedFetcher:
    options: dict[str, Any] = {"max_bytes": 1_000_000, "timeout_s": 5.0, **kwargs}
    return GuardedFetcher(allowlist=allowlist, resolver=resolver, **options)


@pytest.mark.parametrize("host", [host for host, _ in GUARD_TABLE])
def test_guard_table_refused_for_get_and_post_with_no_connection(
    host: str, server: Any, connect_calls: list[Any], make_resolver: Any
) -> None:
    server.routes["/img"] = (200, {"Content-Type": "image/png"}, IMAGE)
    lookups: list[str] = []
    client = fetcher(make_resolver(NAMES, lookups))
    url = f"http://{host}:{server.port}/img"
    with pytest.raises(BlockedAddress, match="refused"):
        client.get(url)
    with pytest.raises(BlockedAddress, match="refused"):
        client.post(url, b"{}", {"Content-Type": "application/json"})
    assert connect_calls == []
    assert server.connections == 0
    assert lookups == (["loopback.example"] * 2 if host == "loopback.example" else [])


@pytest.mark.parametrize("host", [host for host, reaches in GUARD_TABLE if reaches])
def test_same_urls_reach_the_server_when_127_0_0_1_is_allowlisted(
    host: str, server: Any, make_resolver: Any
) -> None:
    server.routes["/img"] = (200, {"Content-Type": "image/png"}, IMAGE)
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",))
    result = client.get(f"http://{host}:{server.port}/img")
    assert result.status == 200
    assert result.content == IMAGE
    assert result.headers["content-type"] == "image/png"
    posted = client.post(f"http://{host}:{server.port}/hook", b"{}", {})
    assert posted.status == 204
    assert server.connections == 2


def test_connection_goes_to_the_checked_ip_with_the_original_host_header(
    server: Any, connect_calls: list[Any], make_resolver: Any
) -> None:
    server.routes["/a.png"] = (200, {}, IMAGE)
    lookups: list[str] = []
    client = fetcher(make_resolver(NAMES, lookups), allowlist=("images.example",))
    result = client.get(f"http://Images.Example:{server.port}/a.png?x=1")
    assert result.content == IMAGE
    assert lookups == ["images.example"]  # resolved once
    assert [address for address, _ in connect_calls] == ["127.0.0.1"]
    request = server.requests[0]
    assert request.headers["host"] == f"images.example:{server.port}"
    assert request.path == "/a.png?x=1"


def test_cidr_allowlist_admits_an_address_range(server: Any, make_resolver: Any) -> None:
    server.routes["/img"] = (200, {}, IMAGE)
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.0/8",))
    assert client.get(server.url("/img")).content == IMAGE


@pytest.mark.parametrize("target", ["http://127.0.0.2:{port}/x", "http://10.0.0.1/x"])
def test_redirect_to_a_refused_address_is_refused_at_the_hop(
    target: str, server: Any, connect_calls: list[Any], make_resolver: Any
) -> None:
    server.routes["/start"] = (302, {"Location": target.format(port=server.port)}, b"")
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",))
    with pytest.raises(BlockedAddress, match="redirect hop 1"):
        client.get(server.url("/start"))
    assert server.connections == 1
    assert [address for address, _ in connect_calls] == ["127.0.0.1"]


def test_redirect_to_a_name_resolving_to_loopback_is_refused(
    server: Any, make_resolver: Any
) -> None:
    location = f"http://loopback.example:{server.port}/img"
    server.routes["/start"] = (301, {"Location": location}, b"")
    client = fetcher(make_resolver(NAMES), allowlist=("images.example",))  # a name, not the IP
    with pytest.raises(BlockedAddress, match=r"loopback\.example resolves to 127\.0\.0\.1"):
        client.get(server.url("/start", host="images.example"))
    assert server.connections == 1


def test_allowed_redirects_are_followed_and_rechecked(server: Any, make_resolver: Any) -> None:
    server.routes["/one"] = (301, {"Location": "/two"}, b"")
    server.routes["/two"] = (307, {"Location": server.url("/img")}, b"")
    server.routes["/img"] = (200, {}, IMAGE)
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",))
    result = client.get(server.url("/one"))
    assert result.content == IMAGE
    assert result.url == server.url("/img")
    assert [r.path for r in server.requests] == ["/one", "/two", "/img"]


def test_too_many_redirects(server: Any, make_resolver: Any) -> None:
    server.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",), max_redirects=2)
    with pytest.raises(FetchError, match="too many redirects"):
        client.get(server.url("/loop"))
    assert len(server.requests) == 3


def test_redirect_to_another_scheme_is_invalid(server: Any, make_resolver: Any) -> None:
    server.routes["/start"] = (302, {"Location": "file:///etc/passwd"}, b"")
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",))
    with pytest.raises(InvalidURL, match="scheme 'file'"):
        client.get(server.url("/start"))


def test_post_never_follows_redirects(server: Any, make_resolver: Any) -> None:
    server.post_script.append((302, {"Location": "/elsewhere"}, b""))
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",))
    result = client.post(server.url("/hook"), b"{}", {})
    assert result.status == 302
    assert result.headers["location"] == "/elsewhere"
    assert [r.path for r in server.requests] == ["/hook"]


def test_declared_size_over_the_limit_is_refused(server: Any, make_resolver: Any) -> None:
    server.routes["/big"] = (200, {}, b"x" * 5000)
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",), max_bytes=4000)
    with pytest.raises(FetchError, match="too large: declares 5000 bytes"):
        client.get(server.url("/big"))


def test_streamed_size_over_the_limit_is_refused(server: Any, make_resolver: Any) -> None:
    def undeclared(handler: Any) -> None:  # no Content-Length: read until the socket closes
        handler.send_response(200)
        handler.end_headers()
        for _ in range(50):
            handler.wfile.write(b"y" * 1000)

    server.routes["/stream"] = undeclared
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",), max_bytes=4000)
    with pytest.raises(FetchError, match="too large: sent more than 4000 bytes"):
        client.get(server.url("/stream"))
    exact = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",), max_bytes=50_000)
    assert exact.get(server.url("/stream")).content == b"y" * 50_000


def test_a_stalled_server_times_out(server: Any, make_resolver: Any) -> None:
    def stall(handler: Any) -> None:
        handler.send_response(200)
        handler.end_headers()
        handler.wfile.flush()
        server.release.wait(10)

    server.routes["/stall"] = stall
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",), timeout_s=0.3)
    with pytest.raises(FetchError, match=re.escape("timed out after 0.3 s")) as caught:
        client.get(server.url("/stall"))
    assert caught.value.retryable


def test_a_dripping_server_hits_the_whole_fetch_time_limit(server: Any, make_resolver: Any) -> None:
    def drip(handler: Any) -> None:  # every read succeeds quickly; only the total is too long
        handler.send_response(200)
        handler.end_headers()
        while not server.release.is_set():
            handler.wfile.write(b"z")
            handler.wfile.flush()
            time.sleep(0.05)

    server.routes["/drip"] = drip
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",), timeout_s=0.4)
    with pytest.raises(FetchError, match="timed out"):
        client.get(server.url("/drip"))


@pytest.mark.parametrize(("status", "retryable"), [(404, False), (503, True), (429, True)])
def test_bad_status_is_an_error(
    status: int, retryable: bool, server: Any, make_resolver: Any
) -> None:
    server.routes["/img"] = (status, {}, b"nope")
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",))
    with pytest.raises(FetchError, match=f"bad status {status}") as caught:
        client.get(server.url("/img?token=secret"))
    assert caught.value.status == status
    assert caught.value.retryable is retryable
    assert "secret" not in str(caught.value)


def test_unresolvable_name_is_a_retryable_fetch_error(make_resolver: Any) -> None:
    client = fetcher(make_resolver({}), allowlist=("nowhere.example",))
    with pytest.raises(
        FetchError, match=re.escape("could not resolve host 'nowhere.example'")
    ) as caught:
        client.get("http://nowhere.example/a.png")
    assert caught.value.retryable


def test_connection_refused_is_a_fetch_error(make_resolver: Any) -> None:
    import socket

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",))
    with pytest.raises(FetchError, match="could not fetch"):
        client.get(f"http://127.0.0.1:{port}/img")


def test_environment_proxies_are_ignored(
    server: Any, make_resolver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.9.9.9:3128")
    server.routes["/img"] = (200, {}, IMAGE)
    client = fetcher(make_resolver(NAMES), allowlist=("127.0.0.1",), timeout_s=2.0)
    assert client.get(server.url("/img")).content == IMAGE


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_bytes": 0}, "max_bytes must be positive"),
        ({"timeout_s": 0}, "timeout_s must be positive"),
        ({"max_redirects": -1}, "max_redirects"),
        ({"allowlist": ("10.0.0.0/33",)}, "not a valid CIDR"),
    ],
)
def test_bad_fetcher_options_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GuardedFetcher(**kwargs)
