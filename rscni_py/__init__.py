"""rscni-py: write CNI (Container Network Interface) plugins in Python.

Subclass :class:`CNIPlugin`, implement ``add``, ``delete`` and ``check``, and call ``MyPlugin.run()``: the SDK speaks
the whole CNI execution protocol (environment, stdin, version negotiation, result conversion, errors, exit codes).
The result and configuration models live in :mod:`rscni_py.types`.
"""

from __future__ import annotations

from rscni_py._private.plugin import CmdArgs, CNIPlugin, PluginInfo
from rscni_py._private.versions import ALL_VERSIONS as SUPPORTED_VERSIONS
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
]
