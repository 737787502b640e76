"""Reading IP addresses and CIDRs the way CNI writes them (Go's ``net.ParseIP`` and ``types.ParseCIDR``).

The one address parser of the SDK: the codec and ``CNI_ARGS`` parsing both use it, each wording its own errors.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Final

from rscni_py._base.quoting import SHOWN, q

if TYPE_CHECKING:
    from rscni_py.types.fields import IPAddress, IPInterface

__all__ = ["parse_cidr", "parse_ip"]

_DIGITS: Final = frozenset("0123456789")


def parse_cidr(text: str) -> IPInterface:
    """Parse a CNI CIDR (``"10.1.2.3/24"``) keeping the host bits, as Go's ``types.ParseCIDR``.

    A prefix length is required and must be decimal (no netmask form); zones are refused.

    >>> parse_cidr("10.1.2.3/24")
    IPv4Interface('10.1.2.3/24')

    :raises ValueError: ``invalid CIDR "…"``.
    """
    address, slash, prefix = text.partition("/")
    if slash and "%" not in address and prefix and _DIGITS.issuperset(prefix):
        try:
            return ipaddress.ip_interface(text)
        except ValueError:
            pass
    raise ValueError(f"invalid CIDR {q(text, limit=SHOWN)}")


def parse_ip(text: str) -> IPAddress:
    """Parse a CNI IP address (``"10.1.2.1"``, ``"2001:db8::1"``), as Go's ``net.ParseIP``.

    >>> parse_ip("2001:db8::1")
    IPv6Address('2001:db8::1')

    :raises ValueError: ``invalid IP address "…"``.
    """
    if "%" not in text:
        try:
            return ipaddress.ip_address(text)
        except ValueError:
            pass
    raise ValueError(f"invalid IP address {q(text, limit=SHOWN)}")
