"""rscni-py: write CNI (Container Network Interface) plugins in Python.

Subclass :class:`CNIPlugin`, implement ``add``, ``delete`` and ``check``, and call ``MyPlugin.run()``: the SDK speaks
the whole CNI execution protocol (environment, stdin, version negotiation, result conversion, errors, exit codes).
The result and configuration models live in :mod:`rscni_py.types`.

Names are imported from their modules on first use, so ``import rscni_py`` alone (or importing one of its
submodules, as the ``rscni-py`` command and the pytest plugin do) loads only what is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rscni_py._base import lazy as _lazy

if TYPE_CHECKING:
    from rscni_py._base import versions as _versions
    from rscni_py.errors import CNIError as CNIError
    from rscni_py.errors import DecodingFailureError as DecodingFailureError
    from rscni_py.errors import ErrorCode as ErrorCode
    from rscni_py.errors import IncompatibleCNIVersionError as IncompatibleCNIVersionError
    from rscni_py.errors import InternalError as InternalError
    from rscni_py.errors import InvalidEnvironmentVariablesError as InvalidEnvironmentVariablesError
    from rscni_py.errors import InvalidNetNSError as InvalidNetNSError
    from rscni_py.errors import InvalidNetworkConfigError as InvalidNetworkConfigError
    from rscni_py.errors import IOFailureError as IOFailureError
    from rscni_py.errors import LimitedConnectivityError as LimitedConnectivityError
    from rscni_py.errors import PluginNotAvailableError as PluginNotAvailableError
    from rscni_py.errors import TryAgainLaterError as TryAgainLaterError
    from rscni_py.errors import UnknownContainerError as UnknownContainerError
    from rscni_py.errors import UnsupportedFieldError as UnsupportedFieldError
    from rscni_py.plugin import CmdArgs as CmdArgs
    from rscni_py.plugin import CNIPlugin as CNIPlugin
    from rscni_py.plugin import PluginInfo as PluginInfo
    from rscni_py.plugin import override as override
    from rscni_py.types.args import CNIArgs as CNIArgs
    from rscni_py.types.args import K8sArgs as K8sArgs
    from rscni_py.types.netconf import NetConf as NetConf

    SUPPORTED_VERSIONS = _versions.ALL_VERSIONS

__version__ = "0.1.0"

# Where each public name lives; the module is imported when the name is first looked up (rscni_py._base.lazy).
# The table is the list of public names; mypy reads the same names from the imports above, which re-export them
# explicitly ("X as X"); tests/test_fast_start.py checks that the two say the same.
_LAZY = _lazy.LazyNames(
    __name__,
    {
        "SUPPORTED_VERSIONS": "rscni_py._base.versions:ALL_VERSIONS",
        **dict.fromkeys(
            (
                "CNIError",
                "DecodingFailureError",
                "ErrorCode",
                "IncompatibleCNIVersionError",
                "InternalError",
                "InvalidEnvironmentVariablesError",
                "InvalidNetNSError",
                "InvalidNetworkConfigError",
                "IOFailureError",
                "LimitedConnectivityError",
                "PluginNotAvailableError",
                "TryAgainLaterError",
                "UnknownContainerError",
                "UnsupportedFieldError",
            ),
            "rscni_py.errors",
        ),
        **dict.fromkeys(("CmdArgs", "CNIPlugin", "PluginInfo", "override"), "rscni_py.plugin"),
        **dict.fromkeys(("CNIArgs", "K8sArgs"), "rscni_py.types.args"),
        "NetConf": "rscni_py.types.netconf",
    },
)
__all__ = sorted(_LAZY.homes)  # noqa: PLE0605 - the table's names, sorted

if not TYPE_CHECKING:
    # Hidden from mypy, which would otherwise accept any name as an attribute of this package.
    __getattr__, __dir__ = _LAZY.module_getattr, _LAZY.module_dir
