"""IP addresses for the guard: literal spellings read as libc and browsers read them, and which
addresses are not public (the reason named, IPv6 wrappings of IPv4 looked through).
"""

from __future__ import annotations

import ipaddress
import re

from imagejobs.net.errors import InvalidURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

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


def connect_address(ip: IPAddress) -> str:
    """The address string to open the socket to (IPv4-mapped IPv6 becomes plain IPv4)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)
