"""Guarded outbound HTTP: the address guard and the fetcher that connects only to checked IPs."""

from imagejobs.net.errors import BlockedAddress, InvalidURL, UnresolvableHost, URLRefused
from imagejobs.net.fetch import FetchError, FetchResult, GuardedFetcher, PostResult
from imagejobs.net.guard import ParsedURL, check_url, parse_and_check_url, resolve_checked

__all__ = [
    "BlockedAddress",
    "FetchError",
    "FetchResult",
    "GuardedFetcher",
    "InvalidURL",
    "ParsedURL",
    "PostResult",
    "URLRefused",
    "UnresolvableHost",
    "check_url",
    "parse_and_check_url",
    "resolve_checked",
]
