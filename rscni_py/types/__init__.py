"""Typed models of everything CNI puts on the wire, for every CNI version.

* Results: :class:`Result` (with :class:`Interface`, :class:`IPConfig`, :class:`Route`, :class:`DNS`)
  is the 1.0.0/1.1.0 shape plugins work with. ``rscni_py.types.v0_4`` (0.3.0/0.3.1/0.4.0) and
  ``rscni_py.types.v0_2`` (0.1.0/0.2.0) model the older shapes. Every result has ``cni_version``,
  ``convert(version)`` and ``to_dict()``.
* Configuration: :class:`NetConf` (subclass it for plugin keys, declared with :func:`json_field`),
  :class:`IPAMConf`, :class:`RuntimeConfig`, :class:`GCAttachment`, :class:`NetConfList`.
* Reading: :func:`parse_result`, :func:`parse_prev_result`, and :func:`decode` / :func:`encode` for
  any model; :func:`validate_result` checks a result built in Python as if it had been read (``run()`` does
  that to every ADD result before printing it). Bad input raises :class:`FieldError` naming the JSON path.
  :func:`parse_cidr` and :func:`parse_ip` read addresses the way CNI writes them
  (``IPConfig(parse_cidr("10.1.2.3/24"))``).

Importing this package does not import dataclasses-json; the codec loads it on first use. Each name is
imported from its module when it is first used (``from rscni_py.types import Result`` loads the 1.x result
model and not the older shapes, the conversions or the decoder), because every plugin start pays for what is
imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rscni_py._base import lazy as _lazy

if TYPE_CHECKING:
    from rscni_py.types._family import KNOWN_VERSIONS as KNOWN_VERSIONS
    from rscni_py.types.addresses import parse_cidr as parse_cidr
    from rscni_py.types.addresses import parse_ip as parse_ip
    from rscni_py.types.codec import decode as decode
    from rscni_py.types.codec import encode as encode
    from rscni_py.types.common import DNS as DNS
    from rscni_py.types.common import ConversionError as ConversionError
    from rscni_py.types.common import IPAddress as IPAddress
    from rscni_py.types.common import IPInterface as IPInterface
    from rscni_py.types.common import MACAddress as MACAddress
    from rscni_py.types.common import Route as Route
    from rscni_py.types.conflist import NetConfList as NetConfList
    from rscni_py.types.convert import AnyResult as AnyResult
    from rscni_py.types.convert import convert_result as convert_result
    from rscni_py.types.fields import FieldError as FieldError
    from rscni_py.types.fields import json_field as json_field
    from rscni_py.types.gc import GCAttachment as GCAttachment
    from rscni_py.types.ipam import IPAMConf as IPAMConf
    from rscni_py.types.netconf import NetConf as NetConf
    from rscni_py.types.parse import parse_prev_result as parse_prev_result
    from rscni_py.types.parse import parse_result as parse_result
    from rscni_py.types.parse import validate_result as validate_result
    from rscni_py.types.runtime_config import Bandwidth as Bandwidth
    from rscni_py.types.runtime_config import IPRange as IPRange
    from rscni_py.types.runtime_config import PortMapping as PortMapping
    from rscni_py.types.runtime_config import RuntimeConfig as RuntimeConfig
    from rscni_py.types.runtime_config import RuntimeDNS as RuntimeDNS
    from rscni_py.types.v1_0 import Interface as Interface
    from rscni_py.types.v1_0 import IPConfig as IPConfig
    from rscni_py.types.v1_0 import Result as Result


# Where each public name lives; a name's module is imported when the name is first looked up (rscni_py._base.lazy).
# The table is the list of public names; mypy reads the same names from the imports above, which re-export them
# explicitly ("X as X"); tests/test_fast_start.py checks that the two say the same.
_LAZY = _lazy.LazyNames(
    __name__,
    {
        "AnyResult": "rscni_py.types.convert",
        "Bandwidth": "rscni_py.types.runtime_config",
        "ConversionError": "rscni_py.types.common",
        "DNS": "rscni_py.types.common",
        "FieldError": "rscni_py.types.fields",
        "GCAttachment": "rscni_py.types.gc",
        "IPAMConf": "rscni_py.types.ipam",
        "IPAddress": "rscni_py.types.common",
        "IPConfig": "rscni_py.types.v1_0",
        "IPInterface": "rscni_py.types.common",
        "IPRange": "rscni_py.types.runtime_config",
        "Interface": "rscni_py.types.v1_0",
        "KNOWN_VERSIONS": "rscni_py.types._family",
        "MACAddress": "rscni_py.types.common",
        "NetConf": "rscni_py.types.netconf",
        "NetConfList": "rscni_py.types.conflist",
        "PortMapping": "rscni_py.types.runtime_config",
        "Result": "rscni_py.types.v1_0",
        "Route": "rscni_py.types.common",
        "RuntimeConfig": "rscni_py.types.runtime_config",
        "RuntimeDNS": "rscni_py.types.runtime_config",
        "convert_result": "rscni_py.types.convert",
        "decode": "rscni_py.types.codec",
        "encode": "rscni_py.types.codec",
        "json_field": "rscni_py.types.fields",
        "parse_cidr": "rscni_py.types.addresses",
        "parse_ip": "rscni_py.types.addresses",
        "parse_prev_result": "rscni_py.types.parse",
        "parse_result": "rscni_py.types.parse",
        "validate_result": "rscni_py.types.parse",
    },
)
__all__ = sorted(_LAZY.homes)  # noqa: PLE0605 - the table's names, sorted

if not TYPE_CHECKING:
    # Hidden from mypy, which would otherwise accept any name as an attribute of this package.
    __getattr__, __dir__ = _LAZY.module_getattr, _LAZY.module_dir
