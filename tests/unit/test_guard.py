"""The address guard on its own: URL form, IP spellings, address classes, allowlist, resolving."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

import pytest

from imagejobs.net.addresses import blocked_reason, normalise_host
from imagejobs.net.errors import BlockedAddress, InvalidURL, UnresolvableHost, URLRefused
from imagejobs.net.guard import check_url, parse_and_check_url, resolve_checked


def resolver_for(*ips: str, calls: list[str] | None = None) -> Any:
    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if calls is not None:
            calls.append(host)
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, port),
            )
            for ip in ips
        ]

    return resolve


def no_resolver(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the resolver must not be called for IP literals")


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("127.0.0.1", "refused: 127.0.0.1 is a loopback address"),
        ("10.1.2.3", "refused: 10.1.2.3 is a private address"),
        ("172.16.0.1", "is a private address"),
        ("172.31.255.255", "is a private address"),
        ("192.168.1.1", "is a private address"),
        ("169.254.169.254", "is a link-local (cloud metadata) address"),
        ("100.64.0.1", "is a shared (CGNAT 100.64.0.0/10) address"),
        ("100.127.255.254", "shared"),
        ("[::1]", "refused: ::1 is a loopback address"),
        ("[::ffff:127.0.0.1]", "IPv4-mapped IPv6 address of 127.0.0.1, a loopback address"),
        ("[::ffff:10.0.0.1]", "IPv4-mapped IPv6 address of 10.0.0.1, a private address"),
        ("0.0.0.0", "refused: 0.0.0.0 is an unspecified address"),
        ("[::]", "is an unspecified address"),
        ("2130706433", "refused: 2130706433 (127.0.0.1) is a loopback address"),
        ("0177.0.0.1", "refused: 0177.0.0.1 (127.0.0.1) is a loopback address"),
        ("0x7f.1", "refused: 0x7f.1 (127.0.0.1) is a loopback address"),
        ("0x7F000001", "(127.0.0.1) is a loopback address"),
        ("127.1", "refused: 127.1 (127.0.0.1) is a loopback address"),
        ("0", "(0.0.0.0) is an unspecified address"),
        ("224.0.0.1", "is a multicast address"),
        ("[ff02::1]", "is a multicast address"),
        ("[fe80::1]", "is a link-local address"),
        ("[fc00::1]", "is a private address"),
        ("[fec0::1]", "is a site-local address"),
        ("240.0.0.1", "is a reserved address"),
        ("255.255.255.255", "refused"),
        ("[2002:7f00:1::]", "6to4 address of 127.0.0.1, a loopback address"),
        ("[2001:0:4136:e378:8000:63bf:80ff:fffe]", "Teredo address of 127.0.0.1"),
        ("[64:ff9b::a9fe:a9fe]", "NAT64 address of 169.254.169.254"),
        ("[::7f00:1]", "IPv4-compatible IPv6 address of 127.0.0.1"),
        ("[64:ff9b:1::1]", "refused"),
    ],
)
def test_refused_addresses(host: str, message: str) -> None:
    with pytest.raises(BlockedAddress, match=r"^refused: ") as caught:
        check_url(f"http://{host}/cat.png", resolver=no_resolver)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("url", "ip"),
    [
        ("http://8.8.8.8/a.png", "8.8.8.8"),
        ("https://134744072/a.png", "8.8.8.8"),  # decimal form of a public address
        ("http://[2606:4700:4700::1111]/", "2606:4700:4700::1111"),
        ("http://[::ffff:8.8.8.8]/", "8.8.8.8"),  # connect over IPv4
        ("http://[64:ff9b::808:808]/", "64:ff9b::808:808"),  # NAT64 of a public address
        ("http://[2002:808:808::1]/", "2002:808:808::1"),  # 6to4 of a public address
    ],
)
def test_public_literals_pass_without_resolving(url: str, ip: str) -> None:
    assert check_url(url, resolver=no_resolver)[1] == ip


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f.0.0.0x1", "127.0.0.1"),
        ("010.010.010.010", "8.8.8.8"),
        ("192.168.257", "192.168.1.1"),
        ("1.2.3.4.", "1.2.3.4"),
        ("[::FFFF:7f00:1]", "::ffff:7f00:1"),
        ("Example.COM.", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_host_normalisation(host: str, expected: str) -> None:
    assert normalise_host(host)[0] == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/a.png", "scheme 'ftp' is not allowed"),
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("gopher://127.0.0.1/", "scheme 'gopher'"),
        ("example.com/a.png", "scheme '(none)'"),
        ("http:/example.com", "scheme://host"),
        ("http://user:pw@example.com/", "user name or password"),
        ("http://example.com@127.0.0.1/", "user name or password"),
        ("http:///path", "no host"),
        ("http://example.com:0/", "port '0'"),
        ("http://example.com:70000/", "port '70000'"),
        ("http://example.com:8o/", "port '8o'"),
        ("http://::1/", "IPv6 hosts must be written in brackets"),
        ("http://[::1/", "URL is malformed"),
        ("http://[fe80::1%25eth0]/", "zone identifiers"),
        ("http://[not:an:ip]/", "does not appear to be an IPv4 or IPv6"),
        ("http://256.0.0.1/", "larger than 255"),
        ("http://1.2.3.4.5/", "not a valid one"),
        ("http://4294967296/", "out of range"),
        ("http://09.0.0.1/", "'09' is not a valid IPv4 number"),
        ("http://exa mple.com/", "whitespace"),
        ("http://example.com\\@127.0.0.1/", "backslash"),
        ("http://ex_ample-.com/", "not a valid host name"),
        ("", "empty"),
    ],
)
def test_invalid_urls_name_the_problem(url: str, message: str) -> None:
    with pytest.raises(InvalidURL) as caught:
        parse_and_check_url(url)
    assert message in str(caught.value)


def test_parsed_url_parts() -> None:
    parsed = parse_and_check_url("HTTPS://Images.Example:8443/a%20b.png?sig=1#frag")
    assert (parsed.scheme, parsed.host, parsed.port) == ("https", "images.example", 8443)
    assert parsed.target == "/a%20b.png?sig=1"
    assert parsed.host_header == "images.example:8443"
    assert not parsed.is_ip
    assert parse_and_check_url("http://[2001:db8::1]/").host_header == "[2001:db8::1]"
    assert parse_and_check_url("http://example.com").target == "/"


def test_name_is_resolved_once_and_the_checked_ip_returned() -> None:
    calls: list[str] = []
    ip = resolve_checked(
        "images.example", 443, allowlist=(), resolver=resolver_for("93.184.216.34", calls=calls)
    )
    assert ip == "93.184.216.34"
    assert calls == ["images.example"]


def test_name_with_any_refused_address_is_refused() -> None:
    resolver = resolver_for("93.184.216.34", "10.0.0.7")
    with pytest.raises(
        BlockedAddress, match=re.escape("evil.example resolves to 10.0.0.7, a private")
    ):
        resolve_checked("evil.example", 80, allowlist=(), resolver=resolver)


def test_name_resolving_to_loopback_is_refused() -> None:
    with pytest.raises(
        BlockedAddress, match=re.escape("resolves to 127.0.0.1, a loopback address")
    ):
        check_url("http://rebind.example/", resolver=resolver_for("127.0.0.1"))
    with pytest.raises(BlockedAddress, match=re.escape("IPv4-mapped IPv6 address of 127.0.0.1")):
        check_url("http://rebind.example/", resolver=resolver_for("::ffff:127.0.0.1"))


@pytest.mark.parametrize(
    ("allowlist", "url", "resolved"),
    [
        (["127.0.0.1"], "http://127.0.0.1:8000/", None),
        (["127.0.0.1"], "http://2130706433/", None),
        (["127.0.0.1"], "http://[::ffff:127.0.0.1]/", None),
        (["10.0.0.0/8"], "http://10.20.30.40/", None),
        (["localhost"], "http://LOCALHOST:9000/", "127.0.0.1"),
        (["minio"], "http://minio:9000/bucket/a.png", "172.18.0.5"),
        (["172.16.0.0/12"], "http://minio:9000/", "172.18.0.5"),
        (["::1"], "http://[::1]/", None),
    ],
)
def test_allowlist_admits_names_ips_and_cidrs(
    allowlist: list[str], url: str, resolved: str | None
) -> None:
    resolver = resolver_for(resolved) if resolved else no_resolver
    check_url(url, allowlist=allowlist, resolver=resolver)


@pytest.mark.parametrize(
    ("allowlist", "url", "resolved"),
    [
        (["127.0.0.1"], "http://127.0.0.2/", None),
        (["10.0.0.0/8"], "http://192.168.0.1/", None),
        (["localhost"], "http://127.0.0.1/", None),  # a name entry does not admit the IP
        (["minio"], "http://other:9000/", "172.18.0.5"),
    ],
)
def test_allowlist_admits_nothing_else(
    allowlist: list[str], url: str, resolved: str | None
) -> None:
    resolver = resolver_for(resolved) if resolved else no_resolver
    with pytest.raises(BlockedAddress):
        check_url(url, allowlist=allowlist, resolver=resolver)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["10.0.0.0/40"], "not a valid CIDR"),
        ([""], "empty"),
        (["bad host!"], "not valid"),
    ],
)
def test_bad_allowlist_entries_are_named(entries: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_url("http://8.8.8.8/", allowlist=entries, resolver=no_resolver)


def test_allowlist_must_not_be_a_bare_string() -> None:
    with pytest.raises(TypeError, match="not one string"):
        check_url("http://8.8.8.8/", allowlist="127.0.0.1", resolver=no_resolver)


def test_resolution_failures_are_unresolvable_host() -> None:
    def failing(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(UnresolvableHost, match=re.escape("could not resolve host 'nope.example'")):
        resolve_checked("nope.example", 80, allowlist=(), resolver=failing)
    with pytest.raises(UnresolvableHost, match="no addresses"):
        resolve_checked("nope.example", 80, allowlist=(), resolver=lambda *a, **k: [])


def test_scoped_ipv6_results_are_checked_without_the_scope() -> None:
    with pytest.raises(BlockedAddress, match="fe80::1, a link-local address"):
        resolve_checked("lan.example", 80, allowlist=(), resolver=resolver_for("fe80::1%eth0"))


@pytest.mark.parametrize(
    "network", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8"]
)
def test_every_address_of_a_refused_range_is_refused(network: str) -> None:
    net = ipaddress.ip_network(network)
    for ip in (net.network_address, net.network_address + 1, net.broadcast_address):
        assert blocked_reason(ip) is not None
    assert blocked_reason(net.broadcast_address + 1) is None  # the next address is public


@pytest.mark.parametrize("ip", ["1.1.1.1", "93.184.216.34", "2a00:1450:4001:80b::200e"])
def test_public_addresses_have_no_reason(ip: str) -> None:
    assert blocked_reason(ipaddress.ip_address(ip)) is None


def test_guard_refusals_are_their_own_types_not_value_errors() -> None:
    # Callers map a refusal to "bad URL": a bug's ValueError must never be caught as one.
    for refusal in (InvalidURL, BlockedAddress):
        assert issubclass(refusal, URLRefused) and not issubclass(refusal, ValueError)
    with pytest.raises(URLRefused):
        parse_and_check_url("file:///etc/passwd")
    with pytest.raises(URLRefused):
        check_url("http://127.0.0.1/")
