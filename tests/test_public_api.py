"""The curated public surface: sorted, complete, importable, and free of implementation modules."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

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


def _public_module_names() -> list[str]:
    """Every module of the package whose dotted path has no ``_``-prefixed part."""
    found = pkgutil.walk_packages(rscni_py.__path__, "rscni_py.")
    return ["rscni_py", *sorted(m.name for m in found if not any(p.startswith("_") for p in m.name.split(".")))]


def test_exported_classes_and_functions_carry_their_public_module() -> None:
    # help(), tracebacks and mypy messages show __module__: it must be a public module that holds the name.
    wrong = []
    for name in _public_module_names():
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            value = getattr(module, attr)
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            home = value.__module__
            public = home.split(".")[0] == "rscni_py" and not any(p.startswith("_") for p in home.split("."))
            if not public or getattr(importlib.import_module(home), value.__qualname__, None) is not value:
                wrong.append(f"{name}.{attr}: {home}")
    assert wrong == []


def test_every_public_module_curates_all() -> None:
    assert [name for name in _public_module_names() if not hasattr(importlib.import_module(name), "__all__")] == []


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
    # A frozen dataclass: a plain class saved the VERSION path about 1.5 % (3.1 M instructions), below the 3 %
    # that would justify hand-written methods.
    from rscni_py import PluginInfo

    info = PluginInfo(("0.4.0", "1.0.0"))
    with pytest.raises(AttributeError, match="cannot assign to field 'supported_versions'"):
        info.supported_versions = ()  # type: ignore[misc]
    assert (
        info == PluginInfo(("0.4.0", "1.0.0")),
        info != PluginInfo(("1.0.0",)),
        info == ("0.4.0", "1.0.0"),  # type: ignore[comparison-overlap]  # deliberately another type
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
