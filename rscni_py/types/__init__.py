"""Typed models of everything CNI puts on the wire, for every CNI version.

* Results: :class:`Result` (with :class:`Interface`, :class:`IPConfig`, :class:`Route`, :class:`DNS`)
  is the 1.0.0/1.1.0 shape plugins work with. ``rscni_py.types.v0_4`` (0.3.0/0.3.1/0.4.0) and
  ``rscni_py.types.v0_2`` (0.1.0/0.2.0) model the older shapes. Every result has ``cni_version``,
  ``convert(version)`` and ``to_dict()``.
* Configuration: :class:`NetConf` (subclass it for plugin keys, declared with :func:`json_field`),
  :class:`IPAMConf`, :class:`RuntimeConfig`, :class:`GCAttachment`, :class:`NetConfList`.
* Reading: :func:`parse_result`, :func:`parse_prev_result`, and :func:`decode` / :func:`encode` for
  any model. Bad input raises :class:`FieldError` naming the JSON path. :func:`parse_cidr` and
  :func:`parse_ip` read addresses the way CNI writes them (``IPConfig(parse_cidr("10.1.2.3/24"))``).

Importing this package does not import dataclasses-json; the codec loads it on first use.
"""

from __future__ import annotations

from rscni_py._private.codec import FieldError, decode, encode, json_field, parse_cidr, parse_ip
from rscni_py.types._convert import AnyResult, convert_result
from rscni_py.types._family import KNOWN_VERSIONS
from rscni_py.types._parse import parse_prev_result, parse_result
from rscni_py.types.common import DNS, ConversionError, IPAddress, IPInterface, MACAddress, Route
from rscni_py.types.netconf import GCAttachment, IPAMConf, NetConf, NetConfList
from rscni_py.types.runtime_config import Bandwidth, IPRange, PortMapping, RuntimeConfig, RuntimeDNS
from rscni_py.types.v1_0 import Interface, IPConfig, Result

__all__ = [
    "AnyResult",
    "Bandwidth",
    "ConversionError",
    "DNS",
    "FieldError",
    "GCAttachment",
    "IPAMConf",
    "IPAddress",
    "IPConfig",
    "IPInterface",
    "IPRange",
    "Interface",
    "KNOWN_VERSIONS",
    "MACAddress",
    "NetConf",
    "NetConfList",
    "PortMapping",
    "Result",
    "Route",
    "RuntimeConfig",
    "RuntimeDNS",
    "convert_result",
    "decode",
    "encode",
    "json_field",
    "parse_cidr",
    "parse_ip",
    "parse_prev_result",
    "parse_result",
]
