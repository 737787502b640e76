"""rscni-py: write CNI (Container Network Interface) plugins in Python.

Subclass :class:`CNIPlugin`, implement ``add``, ``delete`` and ``check``, and call ``MyPlugin.run()``: the SDK speaks
the whole CNI execution protocol (environment, stdin, version negotiation, result conversion, errors, exit codes).
The result and configuration models live in :mod:`rscni_py.types`.

Names are imported from their modules on first use, so ``import rscni_py`` alone (or importing one of its
submodules, as the ``rscni-py`` command and the pytest plugin do) loads only what is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

# Where each public name lives (and its name there); the module is imported when the name is first looked up.
_HOMES: dict[str, tuple[str, str]] = {
    "CNIArgs": ("rscni_py.types.args", "CNIArgs"),
    "CNIPlugin": ("rscni_py.plugin", "CNIPlugin"),
    "CmdArgs": ("rscni_py.plugin", "CmdArgs"),
    "K8sArgs": ("rscni_py.types.args", "K8sArgs"),
    "NetConf": ("rscni_py.types.netconf", "NetConf"),
    "PluginInfo": ("rscni_py.plugin", "PluginInfo"),
    "override": ("rscni_py.plugin", "override"),
    "SUPPORTED_VERSIONS": ("rscni_py._base.versions", "ALL_VERSIONS"),
    **{name: ("rscni_py.errors", name) for name in __all__ if name.endswith("Error") or name == "ErrorCode"},
}

if not TYPE_CHECKING:
    # Hidden from mypy, which would otherwise accept any name as an attribute of this package.

    def __getattr__(name: str) -> object:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        # __import__ rather than importlib.import_module: the same import, and -X importtime reports it.
        value = getattr(__import__(home[0], fromlist=[home[1]]), home[1])
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
