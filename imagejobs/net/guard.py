"""The address guard: which URLs the worker may fetch and which addresses it may connect to.

Image URLs and webhook callback URLs both pass through here. The rules:

* only ``http`` and ``https``, a host is required, no ``user:password@`` part, a valid port;
* IP literals are normalised the way browsers and libc read them (``2130706433``, ``0177.0.0.1``,
  ``0x7f.1``, ``127.1``, ``[::ffff:127.0.0.1]``) so no spelling slips past the checks;
* a host name is resolved once and every address it resolves to must be public; the caller then
  connects to the returned, checked address (so DNS rebinding cannot switch it afterwards);
* refused: loopback, private, link-local (cloud metadata), shared address space (CGNAT
  100.64/10), multicast, reserved, unspecified and site-local addresses, and IPv6 forms that wrap
  a refused IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64 ``64:ff9b::/96``);
* an allowlist of host names, IPs and CIDRs admits chosen hosts (tests, private deployments).

IP spellings and address classes are in :mod:`imagejobs.net.addresses`; the failure types
(``InvalidURL``, ``BlockedAddress``, both ``URLRefused``; ``UnresolvableHost``) in
:mod:`imagejobs.net.errors`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from imagejobs.net.addresses import (
    IPAddress,
    IPNetwork,
    blocked_reason,
    connect_address,
    normalise_host,
)
from imagejobs.net.errors import BlockedAddress, InvalidURL, UnresolvableHost

Resolver = Callable[..., Sequence[tuple[Any, ...]]]

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class ParsedURL:
    """A checked URL. ``host`` is normalised: lower-case IDNA name, or a canonical IP string."""

    url: str
    scheme: str
    host: str
    port: int
    target: str  # path + query, never empty ("/" at least)
    is_ip: bool
    raw_host: str = ""  # the host as written in the URL, for messages

    @property
    def host_header(self) -> str:
        """The ``Host`` header value for this URL (port only when not the scheme default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


# --- allowlist ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allowlist:
    """Host names, IPs and CIDRs that the guard admits even when their address is not public."""

    names: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, entries: Sequence[str]) -> Allowlist:
        if isinstance(entries, str):
            raise TypeError("allowlist must be a sequence of strings, not one string")
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            text = entry.strip()
            if not text:
                raise ValueError("allowlist entry is empty")
            if "/" in text:
                try:
                    networks.append(ipaddress.ip_network(text, strict=False))
                except ValueError:
                    raise ValueError(f"allowlist entry {entry!r} is not a valid CIDR") from None
                continue
            try:
                host, ip = normalise_host(text)
            except InvalidURL as exc:
                raise ValueError(f"allowlist entry {entry!r} is not valid: {exc}") from None
            if ip is not None:
                networks.append(ipaddress.ip_network(ip))
            else:
                names.add(host)
        return cls(frozenset(names), tuple(networks))

    def admits_name(self, host: str) -> bool:
        return host in self.names

    def admits_ip(self, ip: IPAddress) -> bool:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == net.version and ip in net for net in self.networks)


# --- public checks ------------------------------------------------------------------------------


def parse_and_check_url(url: str) -> ParsedURL:
    """Parse ``url`` and check its form (not its addresses): scheme, host, userinfo, port."""
    if not isinstance(url, str):
        raise InvalidURL(f"URL must be a string, got {type(url).__name__}")
    if not url:
        raise InvalidURL("URL is empty")
    if len(url) > 8192:
        raise InvalidURL("URL is longer than 8192 characters")
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidURL("URL contains whitespace or control characters")
    if "\\" in url:
        raise InvalidURL("URL contains a backslash")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidURL(f"URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = scheme or "(none)"
        raise InvalidURL(f"URL scheme {shown!r} is not allowed; use http or https")
    if not url[len(parts.scheme) + 1 :].startswith("//"):
        raise InvalidURL("URL must have the form scheme://host/...")
    if "@" in parts.netloc:
        raise InvalidURL("URL must not contain a user name or password")
    host_part, port = _split_host_port(parts.netloc, scheme)
    host, ip = normalise_host(host_part)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return ParsedURL(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        target=target,
        is_ip=ip is not None,
        raw_host=host_part.strip("[]"),
    )


def _split_host_port(netloc: str, scheme: str) -> tuple[str, int]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise InvalidURL("URL host has an unclosed '['")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidURL(f"unexpected text after IPv6 host: {rest!r}")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = netloc.partition(":")
        if ":" in port_text:
            raise InvalidURL("IPv6 hosts must be written in brackets, e.g. http://[2001:db8::1]/")
    if not host:
        raise InvalidURL("URL has no host")
    if not port_text:
        return host, DEFAULT_PORTS[scheme]
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise InvalidURL(f"URL port {port_text!r} is not a number between 1 and 65535")
    return host, int(port_text)


def check_address(host: str, ip: IPAddress, allowlist: Allowlist) -> None:
    """Raise BlockedAddress if ``ip`` (reached for ``host``) is refused and not allowlisted."""
    if allowlist.admits_ip(ip):
        return
    reason = blocked_reason(ip)
    if reason is None:
        return
    if host == str(ip):
        raise BlockedAddress(f"refused: {ip} is {reason}")
    raise BlockedAddress(f"refused: {host} resolves to {ip}, {reason}")


def resolve_checked(
    host: str,
    port: int,
    *,
    allowlist: Sequence[str] | Allowlist,
    resolver: Resolver = socket.getaddrinfo,
) -> str:
    """Resolve ``host`` once, check every address, and return the IP to connect to.

    IP literals are checked without calling the resolver. A name is refused if ANY of its
    addresses is refused (unless the name, or that address, is allowlisted). Raises
    BlockedAddress, InvalidURL, or UnresolvableHost when the name does not resolve.
    """
    rules = allowlist if isinstance(allowlist, Allowlist) else Allowlist.parse(allowlist)
    original = host
    host, literal = normalise_host(host)
    if literal is not None:
        if isinstance(literal, ipaddress.IPv4Address) and host != original.lower():
            _check_literal_spelling(original, literal, rules)
        check_address(host, literal, rules)
        return connect_address(literal)
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnresolvableHost(f"could not resolve host {host!r}: {exc}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            raise UnresolvableHost(f"host {host!r} resolved to a non-IP {text!r}") from None
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise UnresolvableHost(f"host {host!r} resolved to no addresses")
    if not rules.admits_name(host):
        for ip in addresses:
            check_address(host, ip, rules)
    return connect_address(addresses[0])


def _check_literal_spelling(original: str, ip: IPAddress, rules: Allowlist) -> None:
    """Name the original spelling (e.g. ``2130706433``) in the refusal message."""
    if rules.admits_ip(ip):
        return
    reason = blocked_reason(ip)
    if reason is not None:
        raise BlockedAddress(f"refused: {original} ({ip}) is {reason}")


def check_url(
    url: str,
    *,
    allowlist: Sequence[str] | Allowlist = (),
    resolver: Resolver = socket.getaddrinfo,
) -> tuple[ParsedURL, str]:
    """Parse, check and resolve ``url``; returns the parsed URL and the checked IP to use."""
    parsed = parse_and_check_url(url)
    host = parsed.raw_host if parsed.is_ip else parsed.host
    ip = resolve_checked(host, parsed.port, allowlist=allowlist, resolver=resolver)
    return parsed, ip
