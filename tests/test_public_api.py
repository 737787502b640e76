"""The curated public surface: sorted, complete, importable, and free of implementation modules."""

from __future__ import annotations

import importlib
import inspect

import pytest

import rscni_py

PUBLIC_MODULES = ["rscni_py", "rscni_py.errors", "rscni_py.paths", "rscni_py.types"]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_resolvable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    assert len(set(exported)) == len(exported)
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr}"


def test_package_exports_every_public_class_it_defines_or_imports() -> None:
    public = {
        attr
        for attr, value in vars(rscni_py).items()
        if not attr.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
    }
    assert public <= set(rscni_py.__all__)


def test_documented_names_are_public() -> None:
    from rscni_py import CmdArgs, CNIError, CNIPlugin, ErrorCode, NetConf  # noqa: F401
    from rscni_py.types import Result  # noqa: F401

    assert [m for m in ("CNIPlugin", "CmdArgs", "NetConf", "CNIError", "ErrorCode") if m not in rscni_py.__all__] == []


def test_plugin_info_is_an_immutable_value() -> None:
    # A plain class rather than a frozen dataclass (start-up cost); it must still behave like one.
    from rscni_py import PluginInfo

    info = PluginInfo(("0.4.0", "1.0.0"))
    with pytest.raises(AttributeError, match="immutable"):
        info.supported_versions = ()  # type: ignore[misc]
    assert (
        info == PluginInfo(("0.4.0", "1.0.0")),
        info != PluginInfo(("1.0.0",)),
        info == ("0.4.0", "1.0.0"),
        len({info, PluginInfo(("0.4.0", "1.0.0"))}),
        repr(info),
        info.to_dict(),
    ) == (
        True,
        True,
        False,
        1,
        "PluginInfo(supported_versions=('0.4.0', '1.0.0'))",
        {"cniVersion": "1.1.0", "supportedVersions": ["0.4.0", "1.0.0"]},
    )
