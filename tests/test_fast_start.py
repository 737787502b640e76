"""Fast start (issue 7 item 3): what a plugin's cheap paths import, and the run-time stand-ins that make it so.

Module sets are asserted, never times; benchmarks/run.py prints the times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, get_args

import pytest

from rscni_py import CmdArgs, CNIArgs, CNIPlugin, K8sArgs, NetConf


@dataclass(kw_only=True)
class _Conf(NetConf):
    key: str = ""


_T = TypeVar("_T", bound=NetConf)


class _GenericPlugin(CNIPlugin[_T]):
    """A plugin base that stays generic over the configuration only."""


# typing_extensions' TypeVar is for mypy only; at run time missing trailing parameters get the same defaults.
GENERIC_CASES: list[tuple[str, Any, tuple[type, ...]]] = [
    ("plugin-one", CNIPlugin[_Conf], (_Conf, CNIArgs)),
    ("plugin-two", CNIPlugin[_Conf, K8sArgs], (_Conf, K8sArgs)),
    ("plugin-none", CNIPlugin[()], (NetConf, CNIArgs)),
    ("cmdargs-one", CmdArgs[_Conf], (_Conf, CNIArgs)),
    ("cmdargs-two", CmdArgs[_Conf, K8sArgs], (_Conf, K8sArgs)),
    ("generic-subclass", _GenericPlugin[_Conf], (_Conf,)),
]


@pytest.mark.parametrize(
    ("alias", "expected"), [(c[1], c[2]) for c in GENERIC_CASES], ids=[c[0] for c in GENERIC_CASES]
)
def test_missing_generic_parameters_take_their_defaults(alias: Any, expected: tuple[type, ...]) -> None:
    assert get_args(alias) == expected


def test_too_many_generic_parameters_still_fail() -> None:
    with pytest.raises(TypeError, match="Too many arguments"):
        CNIPlugin[_Conf, K8sArgs, int]  # type: ignore[misc]


def test_one_parameter_plugin_derives_both_classes() -> None:
    class Plugin(CNIPlugin[_Conf]):
        def add(self, args: CmdArgs[_Conf]) -> Any:
            raise NotImplementedError

        def delete(self, args: CmdArgs[_Conf]) -> None:
            pass

        def check(self, args: CmdArgs[_Conf]) -> None:
            pass

    assert (Plugin.config_class, Plugin.args_class) == (_Conf, CNIArgs)


# --- what each path imports ---------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = {"typed": ROOT / "tests" / "plugins" / "typed.py", "debug": ROOT / "examples" / "debug" / "rscni_debug.py"}
ATTACH = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"}
PREV_1_0 = {"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1"}]}
PREV_0_4 = {"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.1.0.5/24"}]}

#: Modules that cost start-up time and that the cheap paths have no use for.
WATCHED = frozenset(
    {
        "dataclasses_json",
        "logging",
        "marshmallow",
        "rscni_py.types.codec",
        "rscni_py.types.convert",
        "rscni_py.types.parse",
        "rscni_py.types.gc",
        "rscni_py.types.ipam",
        "rscni_py.types.runtime_config",
        "rscni_py.types.v0_2",
        "rscni_py.types.v0_4",
        "traceback",
        "typing_extensions",
    }
)
# Decoding a configuration needs the codec, the model library (and its typing_extensions) and NetConf's sub-models,
# which a plugin start does not define; logging waits until something logs or the settings ask for more than
# WARNING on stderr.
DECODING = [
    "dataclasses_json",
    "marshmallow",
    "rscni_py.types.codec",
    "rscni_py.types.parse",
    "rscni_py.types.gc",
    "rscni_py.types.ipam",
    "rscni_py.types.runtime_config",
    "typing_extensions",
]
LOGGING = ["logging", "traceback"]
OLD_SHAPES = ["rscni_py.types.convert", "rscni_py.types.v0_2", "rscni_py.types.v0_4"]

PROBE = """
import runpy, sys
sys.argv = [sys.argv[1]]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
sys.stderr.write("\\nLOADED:" + ",".join(sorted(set(sys.modules) & set(sys.argv[1:] or %r))))
"""


def _config(version: str, prev: dict[str, Any] | None = None, **extra: Any) -> bytes:
    body: dict[str, Any] = {"cniVersion": version, "name": "net1", "type": "t", "cniOutput": "/dev/null/out", **extra}
    if prev is not None:
        body["prevResult"] = prev
    return json.dumps(body).encode()


PATHS: list[tuple[str, dict[str, str], bytes, list[str]]] = [
    ("version", {"CNI_COMMAND": "VERSION"}, b"", []),
    ("about", {}, b"", []),
    ("missing-env", {"CNI_COMMAND": "ADD"}, _config("1.0.0"), []),
    ("invalid-env", {"CNI_COMMAND": "ADD", **ATTACH, "CNI_IFNAME": "bad/name"}, _config("1.0.0"), []),
    ("bad-json", {"CNI_COMMAND": "ADD", **ATTACH}, b"{", []),
    ("unsupported-version", {"CNI_COMMAND": "ADD", **ATTACH}, _config("9.9.9"), []),
    ("del-1.0.0", {"CNI_COMMAND": "DEL", **ATTACH}, _config("1.0.0", PREV_1_0), sorted(DECODING)),
    ("del-0.4.0", {"CNI_COMMAND": "DEL", **ATTACH}, _config("0.4.0", PREV_0_4), sorted(DECODING + OLD_SHAPES)),
    (
        "del-log-level",
        {"CNI_COMMAND": "DEL", **ATTACH},
        _config("1.0.0", PREV_1_0, logLevel="debug"),
        sorted(DECODING + LOGGING),
    ),
    (
        "del-log-env",
        {"CNI_COMMAND": "DEL", "RSCNI_LOG_LEVEL": "error", **ATTACH},
        _config("1.0.0"),
        sorted(DECODING + LOGGING),
    ),
]


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
@pytest.mark.parametrize(("env", "stdin", "expected"), [c[1:] for c in PATHS], ids=[c[0] for c in PATHS])
def test_each_path_imports_only_what_it_uses(
    plugin: str, env: dict[str, str], stdin: bytes, expected: list[str]
) -> None:
    # A 1.x configuration never needs the 0.x result shapes; VERSION, about and the early errors need no decoding.
    # DEL rather than ADD: both decode the configuration and prevResult; the debug plugin fails DEL on purpose here
    # (its cniOutput, under /dev/null, cannot be created), after everything was decoded.
    proc = subprocess.run(
        [sys.executable, "-c", PROBE % sorted(WATCHED), str(PLUGINS[plugin])],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **env},
        input=stdin,
        capture_output=True,
        check=False,
        timeout=60,
    )
    loaded = proc.stderr.decode().rpartition("\nLOADED:")[2]
    assert (loaded.split(",") if loaded else []) == expected, proc.stderr.decode()


LATE_LOGGER = """
from rscni_py import CmdArgs, CNIPlugin
from rscni_py.types import Result


class Late(CNIPlugin):
    def add(self, args: CmdArgs) -> Result:
        import logging  # first imported here, after run() started

        logging.getLogger("late").warning("from add")
        return Result()

    def delete(self, args: CmdArgs) -> None:
        pass

    def check(self, args: CmdArgs) -> None:
        pass


Late.run()
"""


def test_plugin_importing_logging_late_still_gets_the_handlers(tmp_path: Path) -> None:
    # run() installs its handlers lazily; a plugin that imports logging inside a method still logs through them.
    script = tmp_path / "late.py"
    script.write_text(LATE_LOGGER)
    proc = subprocess.run(
        [sys.executable, str(script)],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "CNI_COMMAND": "ADD", **ATTACH},
        input=_config("1.0.0"),
        capture_output=True,
        check=False,
        timeout=60,
    )
    lines = proc.stderr.decode().splitlines()
    assert (proc.returncode, [line.split(" ", 2)[2] for line in lines]) == (0, ["WARNING late [ADD c1] from add"])


# --- the 1.x shortcut of Result.convert ----------------------------------------------------------------------------

OWN_VERSIONS = ["", "1.0.0", "1.1.0", "1.0", "0.4.0"]
TARGETS = ["", "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", "1.0", "2.0.0"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("own", OWN_VERSIONS)
def test_result_convert_matches_convert_result(own: str, target: str) -> None:
    # Result.convert answers 1.x -> 1.x itself (so as not to load the 0.x shapes); it must agree with the table.
    from ipaddress import ip_interface

    from rscni_py.types import ConversionError, IPConfig, Result, convert_result

    def attempt(convert: Any) -> tuple[str, Any, bool]:
        result = Result(ips=[IPConfig(address=ip_interface("10.0.0.2/24"))], cni_version=own)
        try:
            converted = convert(result)
        except ConversionError as exc:
            return ("error", str(exc), False)
        return ("ok", converted.to_dict(), converted is result)

    assert attempt(lambda r: r.convert(target)) == attempt(lambda r: convert_result(r, target))


# --- lazily resolved package names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("package", ["rscni_py", "rscni_py.types"])
def test_lazy_names_are_the_objects_of_their_modules(package: str) -> None:
    import importlib

    module = importlib.import_module(package)
    homes = module._LAZY.homes
    resolved = {}
    for name in module.__all__:
        where, _, attr = homes[name].partition(":")
        resolved[name] = getattr(module, name) is getattr(importlib.import_module(where), attr or name)
    assert resolved == dict.fromkeys(module.__all__, True)
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = module.Nope


def _type_checking_names(module: Any) -> dict[str, str]:
    """The names a package's ``if TYPE_CHECKING:`` block re-exports to mypy, each with its home as LazyNames spells it.

    mypy --strict re-exports only ``from m import X as X`` and module-level assignments; an import without the
    redundant alias binds a private name, recorded here under its dotted path so that ``NAME = alias.attr``
    assignments resolve.
    """
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(module))
    (block,) = (
        node
        for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
    )
    private: dict[str, str] = {}
    exported: dict[str, str] = {}
    for node in block.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.asname == alias.name:
                    exported[alias.name] = str(node.module)
                else:
                    private[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Assign):
            (target,) = node.targets
            assert isinstance(target, ast.Name)
            assert isinstance(node.value, ast.Attribute)
            assert isinstance(node.value.value, ast.Name)
            exported[target.id] = f"{private[node.value.value.id]}:{node.value.attr}"
        else:
            raise AssertionError(f"unexpected statement in {module.__name__}'s TYPE_CHECKING block: {ast.dump(node)}")
    return exported


@pytest.mark.parametrize("package", ["rscni_py", "rscni_py.types"])
def test_lazy_names_are_the_names_mypy_sees(package: str) -> None:
    # Python reads a package's names from its LazyNames table (which also gives __all__), mypy from the
    # TYPE_CHECKING imports: both lists name the same objects from the same homes (docs/architecture.md).
    import importlib

    module = importlib.import_module(package)
    assert _type_checking_names(module) == dict(module._LAZY.homes)
    assert module.__all__ == sorted(module._LAZY.homes)
