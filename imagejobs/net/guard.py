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
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., Sequence[tuple[Any, ...]]]

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

_SHARED_V4 = ipaddress.IPv4Network("100.64.0.0/10")
_METADATA_V4 = ipaddress.IPv4Address("169.254.169.254")
_NAT64_V6 = ipaddress.IPv6Network("64:ff9b::/96")
# Networks Python's ``is_global`` does not flag in every 3.11 patch release.
_EXTRA_BLOCKED: tuple[IPNetwork, ...] = (
    ipaddress.IPv4Network("0.0.0.0/8"),
    ipaddress.IPv4Network("192.0.0.0/24"),
    ipaddress.IPv4Network("198.18.0.0/15"),
    ipaddress.IPv4Network("240.0.0.0/4"),
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("100::/64"),
    ipaddress.IPv6Network("2001::/23"),
    ipaddress.IPv6Network("2001:db8::/32"),
    ipaddress.IPv6Network("fc00::/7"),
    ipaddress.IPv6Network("fec0::/10"),
)

_NUMERIC_PART = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


class InvalidURL(ValueError):
    """The URL is malformed or uses something the guard does not accept (scheme, userinfo...)."""


class BlockedAddress(ValueError):
    """The URL's host is, or resolves to, an address the guard refuses."""


class UnresolvableHost(OSError):
    """The host name did not resolve (may be transient; not a refusal)."""


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


# --- IP literal normalisation -------------------------------------------------------------------


def parse_ipv4_lenient(host: str) -> ipaddress.IPv4Address | None:
    """Read ``host`` as an IPv4 address the way inet_aton/WHATWG do, or None if it is a name.

    Accepts 1 to 4 parts, each decimal, octal (leading 0) or hex (0x); the last part fills the
    remaining bytes (``127.1``, ``2130706433``). A host that ends in a number but is not a valid
    address raises InvalidURL, as browsers do.
    """
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts = parts[:-1]  # one trailing dot is allowed
    if not parts or not _NUMERIC_PART.match(parts[-1]):
        return None
    if not all(_NUMERIC_PART.match(p) for p in parts) or len(parts) > 4:
        raise InvalidURL(f"host {host!r} looks like an IPv4 address but is not a valid one")
    numbers = [_parse_ipv4_part(host, p) for p in parts]
    value = 0
    for number in numbers[:-1]:
        if number > 255:
            raise InvalidURL(f"host {host!r}: IPv4 part {number} is larger than 255")
        value = value * 256 + number
    room = 5 - len(numbers)  # bytes the last part may fill
    if numbers[-1] >= 256**room:
        raise InvalidURL(f"host {host!r}: IPv4 address out of range")
    value = value * 256**room + numbers[-1]
    return ipaddress.IPv4Address(value)


def _parse_ipv4_part(host: str, part: str) -> int:
    try:
        if part[:2].lower() == "0x":
            return int(part[2:], 16) if len(part) > 2 else 0
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        return int(part, 10)
    except ValueError:
        raise InvalidURL(f"host {host!r}: {part!r} is not a valid IPv4 number") from None


def normalise_host(host: str) -> tuple[str, IPAddress | None]:
    """Canonical form of a URL host and its IP if it is an IP literal.

    ``[::1]`` and ``::1`` give ``("::1", IPv6Address)``; ``0x7f.1`` gives ``("127.0.0.1", ...)``;
    names are lower-cased, IDNA-encoded and lose one trailing dot.
    """
    if not host:
        raise InvalidURL("URL has no host")
    raw = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in raw:
        if "%" in raw:
            raise InvalidURL(f"host {host!r}: IPv6 zone identifiers are not allowed")
        try:
            ip6 = ipaddress.IPv6Address(raw)
        except ValueError:
            raise InvalidURL(f"host {host!r} is not a valid IPv6 address") from None
        return str(ip6), ip6
    name = raw.lower()
    ip4 = parse_ipv4_lenient(name)
    if ip4 is not None:
        return str(ip4), ip4
    name = name.removesuffix(".")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidURL(f"host {host!r} is not a valid host name") from None
    labels = name.split(".")
    if len(name) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise InvalidURL(f"host {host!r} is not a valid host name")
    return name, None


# --- address classification ---------------------------------------------------------------------


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be contacted (e.g. "a loopback address"), or None if it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        wrapped = _wrapped_ipv4(ip)
        if wrapped is not None:
            kind, v4 = wrapped
            inner = blocked_reason(v4)
            if inner is not None:
                return f"{kind} of {v4}, {inner}"
            if kind.startswith(("an IPv4-mapped", "a NAT64")):
                return None  # the real destination is that public IPv4 address
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip == _METADATA_V4:
        return "a link-local (cloud metadata) address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_V4:
        return "a shared (CGNAT 100.64.0.0/10) address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global or any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version):
        return "a non-public (special-purpose) address"
    return None


def _wrapped_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address carries, with the name of the wrapping."""
    if ip.ipv4_mapped is not None:
        return "an IPv4-mapped IPv6 address", ip.ipv4_mapped
    if ip in _NAT64_V6:
        return "a NAT64 address", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return "a 6to4 address", ip.sixtofour
    if ip.teredo is not None:
        server, client = ip.teredo
        return "a Teredo address", client if blocked_reason(client) else server
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return "an IPv4-compatible IPv6 address", ipaddress.IPv4Address(int(ip))
    return None


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


def connect_address(ip: IPAddress) -> str:
    """The address string to open the socket to (IPv4-mapped IPv6 becomes plain IPv4)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


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
