"""How the address guard says no: a malformed URL, a refused address, a name that did not resolve.

None of them is a ValueError: a caller that maps a guard refusal to "bad input" must not catch a
bug's ValueError with it. ``URLRefused`` is the base of the two refusals (nothing was sent).
"""

from __future__ import annotations


class URLRefused(Exception):
    """The guard will not let the service contact this URL (its form or its address)."""


class InvalidURL(URLRefused):
    """The URL is malformed or uses something the guard does not accept (scheme, userinfo...)."""


class BlockedAddress(URLRefused):
    """The URL's host is, or resolves to, an address the guard refuses."""


class UnresolvableHost(OSError):
    """The host name did not resolve (may be transient; not a refusal)."""
