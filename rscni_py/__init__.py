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
    from rscni_py._base.versions import ALL_VERSIONS as SUPPORTED_VERSIONS
    from rscni_py.errors import (
        CNIError,
        DecodingFailureError,
        ErrorCode,
        IncompatibleCNIVersionError,
        InternalError,
        InvalidEnvironmentVariablesError,
        InvalidNetNSError,
        InvalidNetworkConfigError,
        IOFailureError,
        LimitedConnectivityError,
        PluginNotAvailableError,
        TryAgainLaterError,
        UnknownContainerError,
        UnsupportedFieldError,
    )
    from rscni_py.plugin import CmdArgs, CNIPlugin, PluginInfo, override
    from rscni_py.types.args import CNIArgs, K8sArgs
    from rscni_py.types.netconf import NetConf

__version__ = "0.1.0"

__all__ = [
    "CNIArgs",
    "CNIError",
    "CNIPlugin",
    "CmdArgs",
    "DecodingFailureError",
    "ErrorCode",
    "IOFailureError",
    "IncompatibleCNIVersionError",
    "InternalError",
    "InvalidEnvironmentVariablesError",
    "InvalidNetNSError",
    "InvalidNetworkConfigError",
    "K8sArgs",
    "LimitedConnectivityError",
    "NetConf",
    "PluginInfo",
    "PluginNotAvailableError",
    "SUPPORTED_VERSIONS",
    "TryAgainLaterError",
    "UnknownContainerError",
    "UnsupportedFieldError",
    "override",
]

# Where each public name lives; the module is imported when the name is first looked up (rscni_py._base.lazy).
_LAZY = _lazy.LazyNames(
    __name__,
    {
        "CNIArgs": "rscni_py.types.args",
        "CNIPlugin": "rscni_py.plugin",
        "CmdArgs": "rscni_py.plugin",
        "K8sArgs": "rscni_py.types.args",
        "NetConf": "rscni_py.types.netconf",
        "PluginInfo": "rscni_py.plugin",
        "override": "rscni_py.plugin",
        "SUPPORTED_VERSIONS": "rscni_py._base.versions:ALL_VERSIONS",
        **{name: "rscni_py.errors" for name in __all__ if name.endswith("Error") or name == "ErrorCode"},
    },
)

if not TYPE_CHECKING:
    # Hidden from mypy, which would otherwise accept any name as an attribute of this package.
    __getattr__, __dir__ = _LAZY.module_getattr, _LAZY.module_dir
