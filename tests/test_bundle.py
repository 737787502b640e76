"""Tests for ``rscni-py bundle``: requirement discovery, archive layout and the error for each kind of bad input.

The end-to-end tests, which run a bundle on an interpreter that has none of our packages, are in
tests/test_bundle_run.py.
"""

from __future__ import annotations

import argparse
import configparser
import importlib.metadata
import os
import re
import shlex
import shutil
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rscni_py
from rscni_py.tools import bundle as bundle_module
from rscni_py.tools.bundle import (
    CORE_REQUIREMENTS,
    SHEBANG_FLAGS,
    BundleError,
    add_bundle_arguments,
    bundle,
    bundle_main,
    evaluate_marker,
)
from tests.interpreters import find_python

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(Path(sys.executable).resolve())

# --- PEP 508 markers and requirements --------------------------------------------------------------------------

ENV = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "implementation_version": "3.11.7",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_machine": "x86_64",
    "platform_system": "Linux",
    "platform_python_implementation": "CPython",
    "implementation_name": "cpython",
    "extra": "",
}

MARKERS: list[tuple[str, str, bool]] = [
    # Version comparisons are numeric, not lexical ("3.11" > "3.5" although "1" < "5").
    ("py-lt-old", 'python_version < "3.5"', False),
    ("py-ge-numeric", 'python_version >= "3.5"', True),
    ("py-gt-same-prefix", 'python_version > "3.9"', True),
    ("py-eq-padded", 'python_version == "3.11.0"', True),
    ("py-ne", 'python_version != "3.11"', False),
    ("py-le", "python_version <= '3.11'", True),
    ("full-version-compatible", 'python_full_version ~= "3.11.2"', True),
    ("full-version-compatible-no", 'python_full_version ~= "3.10.2"', False),
    ("reversed-operands", '"3.12" > python_version', True),
    # Plain string variables.
    ("platform-eq", 'sys_platform == "linux"', True),
    ("platform-ne", "sys_platform != 'win32'", True),
    ("string-in", '"linux" in sys_platform', True),
    ("string-not-in", "'win' not in sys_platform", True),
    # Extras: we install none, so extra-only requirements are skipped.
    ("extra-only", 'extra == "dev"', False),
    ("extra-or", 'extra == "dev" or os_name == "posix"', True),
    ("and-binds-tighter", 'os_name == "nt" and extra == "x" or python_version >= "3"', True),
    ("parentheses", '(os_name == "nt" or extra == "x") and python_version >= "3"', False),
]


@pytest.mark.parametrize(("marker", "expected"), [(m, e) for _, m, e in MARKERS], ids=[i for i, _, _ in MARKERS])
def test_evaluate_marker(marker: str, expected: bool) -> None:
    assert evaluate_marker(marker, ENV) is expected


BAD_MARKERS: list[tuple[str, str]] = [
    ("no-operator", 'python_version "3"'),
    ("dangling-and", 'os_name == "posix" and'),
    ("bad-character", "os_name == $"),
    ("unclosed", '(os_name == "posix"'),
    ("trailing", 'os_name == "posix" "x"'),
    ("unknown-variable", 'no_such_variable == ""'),
    ("arbitrary-equality-on-a-string", 'platform_machine === "x86_64"'),
]


@pytest.mark.parametrize("marker", [m for _, m in BAD_MARKERS], ids=[i for i, _ in BAD_MARKERS])
def test_evaluate_marker_rejects(marker: str) -> None:
    # The message is the packaging library's; ours names the marker first.
    with pytest.raises(ValueError) as caught:
        evaluate_marker(marker, ENV)
    assert str(caught.value).startswith(f"invalid marker {marker!r}: ")


versions = st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=3).map(
    lambda parts: ".".join(map(str, parts))
)


@given(versions, versions)
def test_version_markers_order_like_integer_tuples(left: str, right: str) -> None:
    def key(version: str) -> tuple[int, ...]:
        parts = tuple(int(p) for p in version.split("."))
        return parts + (0,) * (3 - len(parts))

    env = {"python_full_version": left}
    assert evaluate_marker(f'python_full_version < "{right}"', env) is (key(left) < key(right))
    assert evaluate_marker(f'python_full_version == "{right}"', env) is (key(left) == key(right))


REQUIREMENTS: list[tuple[str, tuple[str, frozenset[str], str | None]]] = [
    ("marshmallow (>=3.18.0,<4.0.0)", ("marshmallow", frozenset(), None)),
    ("typing_inspect>=0.4.0", ("typing-inspect", frozenset(), None)),
    ("Mypy.Extensions", ("mypy-extensions", frozenset(), None)),
    ("pre-commit>=3.5,<5.0 ; extra == 'dev'", ("pre-commit", frozenset(), 'extra == "dev"')),
    (
        "requests[socks, Security]>=2; python_version<'4'",
        ("requests", frozenset({"socks", "security"}), 'python_version < "4"'),
    ),
]


@pytest.mark.parametrize(("text", "expected"), REQUIREMENTS, ids=[t for t, _ in REQUIREMENTS])
def test_parse_requirement(text: str, expected: tuple[str, frozenset[str], str | None]) -> None:
    assert bundle_module._parse_requirement(text) == expected


def test_core_requirements_match_setup_cfg() -> None:
    """The fallback list for a source checkout is the install_requires of setup.cfg, by normalized name."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = [line.strip() for line in config["options"]["install_requires"].splitlines() if line.strip()]
    declared = sorted(bundle_module._parse_requirement(line)[0] for line in lines)
    assert declared == sorted(bundle_module._normalize(name) for name in CORE_REQUIREMENTS)


EXTENSIONS = [
    ("pkg/_speedups.cpython-311-x86_64-linux-gnu.so", "pkg._speedups"),
    ("_cffi_backend.abi3.so", "_cffi_backend"),
    ("pkg/sub/mod.so", "pkg.sub.mod"),
    ("pkg/mod.py", None),
    ("pkg/data.json", None),
]


@pytest.mark.parametrize(("arcname", "module"), EXTENSIONS, ids=[a for a, _ in EXTENSIONS])
def test_extension_module(arcname: str, module: str | None) -> None:
    assert bundle_module._extension_module(arcname) == module


# --- building ---------------------------------------------------------------------------------------------------

PLUGIN_CLASS = """
class {name}(CNIPlugin):
    about = "{name} plugin"

    def add(self, args):
        raise NotImplementedError

    def delete(self, args):
        pass

    def check(self, args):
        pass
"""


def _plugin_source(*classes: str, head: str = "", tail: str = "") -> str:
    body = "".join(PLUGIN_CLASS.format(name=name) for name in classes)
    return f"from rscni_py import CNIPlugin\n{head}{body}{tail}"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def _archive(path: Path) -> tuple[bytes, list[str]]:
    with path.open("rb") as handle:
        first_line = handle.readline()
    with zipfile.ZipFile(path) as archive:
        return first_line, archive.namelist()


def test_bundle_layout(tmp_path: Path) -> None:
    plugin = _write(
        tmp_path / "demo.py", _plugin_source("Demo", tail='\nif __name__ == "__main__":\n    raise SystemExit(3)\n')
    )
    output = bundle(plugin, tmp_path / "out" / "demo")

    assert output == tmp_path / "out" / "demo"
    assert output.stat().st_mode & 0o777 == 0o755
    first_line, names = _archive(output)
    assert first_line == f"#!{PYTHON} {SHEBANG_FLAGS}\n".encode()
    top_level = sorted({name.split("/")[0] for name in names})
    # rscni_py and the whole dependency tree of dataclasses-json, found from installed metadata.
    assert top_level == sorted(
        [
            "__main__.py",
            "__main__.pyc",
            "dataclasses_json",
            "demo.py",
            "demo.pyc",
            "marshmallow",
            "mypy_extensions.py",
            "mypy_extensions.pyc",
            "packaging",
            "rscni_py",
            "typing_extensions.py",
            "typing_extensions.pyc",
            "typing_inspect.py",
            "typing_inspect.pyc",
        ]
    )
    # Every module has its bytecode beside it, where zipimport looks; no __pycache__, no metadata.
    sources = {name for name in names if name.endswith(".py")}
    assert {name[:-1] for name in names if name.endswith(".pyc")} == sources
    assert not [name for name in names if "__pycache__" in name or ".dist-info" in name]
    with zipfile.ZipFile(output) as archive:
        assert archive.read("__main__.py").decode() == (
            '"""Entry point of a CNI plugin bundle built by rscni-py: run Demo from demo."""\n\n'
            "from demo import Demo\n\nDemo.run()\n"
        )
        assert archive.read("demo.py") == plugin.read_bytes()
        # Unchecked hash-based pycs (PEP 552 flags = 0b01): zipimport never looks at the source.
        assert {int.from_bytes(archive.read(name)[4:8], "little") for name in names if name.endswith(".pyc")} == {1}
        package = Path(rscni_py.__file__).parent
        assert archive.read("rscni_py/__init__.py") == (package / "__init__.py").read_bytes()


def test_native_plugin_bundle_leaves_dataclasses_json_out(tmp_path: Path) -> None:
    # codec = "native": the SDK never imports dataclasses-json, so neither it nor its requirements are bundled.
    about = '    about = "Native plugin"\n'
    source = _plugin_source("Native").replace(about, about + '    codec = "native"\n')
    plugin = _write(tmp_path / "native.py", source)
    _, names = _archive(bundle(plugin, tmp_path / "native"))
    assert sorted({name.split("/")[0] for name in names}) == [
        "__main__.py",
        "__main__.pyc",
        "native.py",
        "native.pyc",
        "rscni_py",
        "typing_extensions.py",
        "typing_extensions.pyc",
    ]


def test_bundle_is_reproducible(tmp_path: Path) -> None:
    plugin = _write(tmp_path / "demo.py", _plugin_source("Demo"))
    first = bundle(plugin, tmp_path / "a" / "demo").read_bytes()
    second = bundle(plugin, tmp_path / "b" / "demo").read_bytes()
    assert first == second


def test_bundle_picks_class_and_follows_imports(tmp_path: Path) -> None:
    """--class chooses among several; sibling modules and installed distributions the plugin imports come along."""
    _write(tmp_path / "helper.py", "import sortedcontainers\nVALUE = 1\n")
    _write(tmp_path / "helpers_pkg" / "__init__.py", "from . import inner\n")
    _write(tmp_path / "helpers_pkg" / "inner.py", "X = 2\n")
    # The lazy import inside a method is found too: the bundle scans the source, not sys.modules.
    head = "import helper\n\ndef _later():\n    import helpers_pkg\n"
    plugin = _write(tmp_path / "two.py", _plugin_source("First", "Second", head=head))

    output = bundle(plugin, tmp_path / "two", class_name="Second")

    _, names = _archive(output)
    assert {"helper.py", "helper.pyc", "helpers_pkg/__init__.pyc", "helpers_pkg/inner.pyc"} <= set(names)
    assert "sortedcontainers/__init__.pyc" in names
    with zipfile.ZipFile(output) as archive:
        assert b"from two import Second\n" in archive.read("__main__.py")


def _bad_plugins(tmp: Path) -> None:
    _write(tmp / "none.py", "from rscni_py import CNIPlugin\nX = 1\n")
    _write(tmp / "two.py", _plugin_source("Beta", "Alpha", head="\nclass Helper:\n    pass\n"))
    _write(tmp / "one.py", _plugin_source("Only", head="import helper_c\n"))
    _write(tmp / "abstract.py", "from rscni_py import CNIPlugin\n\nclass Half(CNIPlugin):\n    pass\n")
    _write(tmp / "imported.py", "from one import Only\n")
    _write(tmp / "typo.py", _plugin_source("Typo").replace("def delete(", "def delet("))
    _write(tmp / "syntax.py", "def broken(:\n    pass\n")
    _write(tmp / "uses_broken.py", "import broken_sibling\n")
    _write(tmp / "broken_sibling.py", "x = 1\nif x\n")
    _write(tmp / "missing_import.py", "import no_such_module_rscni\n")
    _write(tmp / "raises.py", "raise RuntimeError('boom\\nsecond line')\n")
    _write(tmp / "exits.py", "import sys\nsys.exit(2)\n")
    _write(tmp / "json.py", _plugin_source("Shadow"))
    _write(tmp / "bad-name.py", _plugin_source("Dash"))
    _write(tmp / "notpy.txt", "x")
    _write(tmp / "cext.py", _plugin_source("CExt", head="\ndef _lazy():\n    import fastpkg\n"))
    _write(tmp / "fastpkg" / "__init__.py", "")
    _write(tmp / "fastpkg" / "_speed.cpython-311-x86_64-linux-gnu.so", "not really a shared object")
    _write(tmp / "helper_c.py", "")
    _write(tmp / "fake-python", "#!/bin/sh\necho '[1, 2]'\n").chmod(0o755)
    (tmp / "a-file").write_text("")
    (tmp / "a-dir").mkdir()


# (id, plugin, output, extra arguments, message with {tmp})
BAD_INPUT: list[tuple[str, str, str, dict[str, str], str]] = [
    # The plugin file.
    ("missing-plugin", "nope.py", "out", {}, "plugin file not found: {tmp}/nope.py"),
    ("plugin-is-directory", "a-dir", "out", {}, "plugin is not a file: {tmp}/a-dir"),
    (
        "not-a-py-file",
        "notpy.txt",
        "out",
        {},
        "plugin {tmp}/notpy.txt: expected a Python module file named like name.py",
    ),
    (
        "not-an-identifier",
        "bad-name.py",
        "out",
        {},
        "plugin {tmp}/bad-name.py: expected a Python module file named like name.py",
    ),
    (
        "shadows-stdlib",
        "json.py",
        "out",
        {},
        "plugin {tmp}/json.py: module name 'json' clashes with a standard module; rename the file",
    ),
    # Importing it.
    ("syntax-error", "syntax.py", "out", {}, "plugin {tmp}/syntax.py has a syntax error at line 1: invalid syntax"),
    (
        "import-error",
        "missing_import.py",
        "out",
        {},
        "plugin {tmp}/missing_import.py cannot be imported: No module named 'no_such_module_rscni'",
    ),
    (
        "raises-on-import",
        "raises.py",
        "out",
        {},
        "plugin {tmp}/raises.py raised RuntimeError while being imported: boom second line",
    ),
    (
        "exits-on-import",
        "exits.py",
        "out",
        {},
        "plugin {tmp}/exits.py called sys.exit(2) while being imported "
        "(is run() called outside an 'if __name__ == \"__main__\":' block?)",
    ),
    (
        "syntax-error-in-sibling",
        "uses_broken.py",
        "out",
        {},
        "plugin {tmp}/uses_broken.py has a syntax error in {tmp}/broken_sibling.py at line 2: expected ':'",
    ),
    # Finding the class.
    ("no-class", "none.py", "out", {}, "plugin {tmp}/none.py defines no concrete subclass of rscni_py.CNIPlugin"),
    (
        "two-classes",
        "two.py",
        "out",
        {},
        "plugin {tmp}/two.py defines 2 CNIPlugin subclasses (Alpha, Beta); pick one with --class",
    ),
    ("class-not-found", "two.py", "out", {"class_name": "Gamma"}, "plugin {tmp}/two.py has no class 'Gamma'"),
    (
        "class-not-a-plugin",
        "two.py",
        "out",
        {"class_name": "Helper"},
        "plugin {tmp}/two.py: 'Helper' is not a subclass of rscni_py.CNIPlugin",
    ),
    (
        "class-is-the-base",
        "two.py",
        "out",
        {"class_name": "CNIPlugin"},
        "plugin {tmp}/two.py: 'CNIPlugin' is abstract: it does not implement add, check, delete",
    ),
    (
        "class-abstract",
        "abstract.py",
        "out",
        {"class_name": "Half"},
        "plugin {tmp}/abstract.py: 'Half' is abstract: it does not implement add, check, delete",
    ),
    (
        "abstract-only",
        "abstract.py",
        "out",
        {},
        "plugin {tmp}/abstract.py defines no concrete subclass of rscni_py.CNIPlugin; "
        "'Half' is abstract: it does not implement add, check, delete",
    ),
    (
        "misspelled-method",
        "typo.py",
        "out",
        {},
        "plugin {tmp}/typo.py defines no concrete subclass of rscni_py.CNIPlugin; "
        "'Typo' is abstract: it does not implement delete (delet looks like a misspelling of delete)",
    ),
    (
        "class-imported",
        "imported.py",
        "out",
        {"class_name": "Only"},
        "plugin {tmp}/imported.py: 'Only' is imported from one, not defined here",
    ),
    # What it needs.
    (
        "c-extension",
        "cext.py",
        "out",
        {},
        "cannot bundle the plugin's package fastpkg: fastpkg._speed is a C extension module, and extension modules "
        "cannot be imported from a zip file",
    ),
    # The output.
    ("output-is-directory", "one.py", "a-dir", {}, "output is a directory: {tmp}/a-dir"),
    ("output-is-plugin", "one.py", "one.py", {}, "output {tmp}/one.py is the plugin file itself; choose another name"),
    ("output-below-file", "one.py", "a-file/out", {}, "cannot write output {tmp}/a-file/out: Not a directory"),
    # The interpreter.
    (
        "python-not-on-path",
        "one.py",
        "out",
        {"python": "no-such-python-rscni"},
        "--python no-such-python-rscni: not found on PATH",
    ),
    (
        "python-missing",
        "one.py",
        "out",
        {"python": "/nonexistent/python3"},
        "cannot run interpreter /nonexistent/python3: No such file or directory",
    ),
    (
        "python-not-python",
        "one.py",
        "out",
        {"python": "/bin/true"},
        "interpreter /bin/true is not a Python 3 interpreter",
    ),
    ("python-fails", "one.py", "out", {"python": "/bin/false"}, "interpreter /bin/false failed (exit 1): no output"),
    (
        "python-prints-json",
        "one.py",
        "out",
        {"python": "fake-python"},
        "interpreter {tmp}/fake-python is not a Python 3 interpreter",
    ),
]


@pytest.mark.parametrize(
    ("plugin", "output", "kwargs", "message"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_input(tmp_path: Path, plugin: str, output: str, kwargs: dict[str, str], message: str) -> None:
    _bad_plugins(tmp_path)
    if kwargs.get("python", "").startswith("fake-"):
        kwargs = {**kwargs, "python": str(tmp_path / kwargs["python"])}
    with pytest.raises(BundleError) as caught:
        bundle(tmp_path / plugin, tmp_path / output, **kwargs)
    assert str(caught.value) == message.format(tmp=tmp_path)
    assert not (tmp_path / "out").exists()
    # The plugin is not left in sys.modules, nor its directory on sys.path.
    assert str(tmp_path) not in sys.path
    assert not [name for name in sys.modules if name.startswith("_rscni_py_bundle_")]


def test_rejects_old_python(tmp_path: Path) -> None:
    old_python = find_python(range(9, 5, -1))  # the newest Python older than 3.10 this machine has
    if old_python is None:
        pytest.skip("needs a Python 3.9 (or older) interpreter")
    plugin = _write(tmp_path / "demo.py", _plugin_source("Demo"))
    with pytest.raises(BundleError) as caught:
        bundle(plugin, tmp_path / "out", python=str(old_python))
    assert re.fullmatch(
        rf"interpreter {re.escape(str(old_python))} is Python 3\.\d+\.\d+; rscni-py needs 3\.10 or newer",
        str(caught.value),
    )


def test_python_symlink_kept_in_shebang(tmp_path: Path) -> None:
    """An explicit --python keeps its path: a venv's bin/python must not become the base interpreter."""
    link = tmp_path / "bin" / "python"
    link.parent.mkdir()
    link.symlink_to(PYTHON)
    plugin = _write(tmp_path / "demo.py", _plugin_source("Demo"))
    first_line, _ = _archive(bundle(plugin, tmp_path / "out", python=str(link)))
    assert first_line == f"#!{link} {SHEBANG_FLAGS}\n".encode()


def test_warns_about_shim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An interpreter that is a script starting the real one (what a pyenv shim is) gets a warning naming both."""
    shim = _write(tmp_path / "shims" / "python3", f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    shim.chmod(0o755)
    real_path = os.path.realpath(sys.executable)
    plugin = _write(tmp_path / "demo.py", _plugin_source("Demo"))
    bundle(plugin, tmp_path / "out", python=str(shim))
    assert capsys.readouterr().err == (
        f"warning: {shim} is a script that starts {real_path}; every plugin call pays for that script "
        f"(a pyenv shim costs about 100 ms), so consider --python {real_path}\n"
    )


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rscni-py bundle")
    add_bundle_arguments(parser)
    return parser.parse_args(argv)


def test_arguments() -> None:
    assert vars(_parse(["p.py", "-o", "out", "--python", "/usr/bin/python3", "--class", "P"])) == {
        "plugin": Path("p.py"),
        "output": Path("out"),
        "python": "/usr/bin/python3",
        "class_name": "P",
    }
    assert vars(_parse(["p.py", "--output", "out"])) == {
        "plugin": Path("p.py"),
        "output": Path("out"),
        "python": None,
        "class_name": None,
    }


def test_bundle_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugin = _write(tmp_path / "demo.py", _plugin_source("Demo"))
    assert bundle_main(_parse([str(plugin), "-o", str(tmp_path / "demo")])) == 0
    assert capsys.readouterr() == (f"wrote {tmp_path}/demo\n", "")
    assert bundle_main(_parse([str(tmp_path / "nope.py"), "-o", str(tmp_path / "x")])) == 1
    assert capsys.readouterr() == ("", f"rscni-py bundle: error: plugin file not found: {tmp_path}/nope.py\n")


def test_messages_keep_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "plugins" / "none.py", "from rscni_py import CNIPlugin\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BundleError) as caught:
        bundle(Path("plugins/none.py"), Path("out"))
    assert str(caught.value) == "plugin plugins/none.py defines no concrete subclass of rscni_py.CNIPlugin"


def test_refuses_installed_distribution_with_c_extension(tmp_path: Path) -> None:
    """mypy (a test dependency) is compiled with mypyc; a plugin that imports it cannot be bundled."""
    plugin = _write(tmp_path / "usesmypy.py", _plugin_source("UsesMypy", head="\ndef _lazy():\n    import mypy.api\n"))
    with pytest.raises(BundleError) as caught:
        bundle(plugin, tmp_path / "out")
    assert re.fullmatch(
        r"cannot bundle distribution mypy: [\w.]+ is a C extension module, and extension modules cannot be "
        r"imported from a zip file",
        str(caught.value),
    )
    assert not (tmp_path / "out").exists()


def test_warns_about_imports_that_are_not_installed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An optional import of something not installed (here inside try/except) is left out, with a warning."""
    head = "\ntry:\n    import not_installed_rscni_opt\nexcept ImportError:\n    pass\n"
    plugin = _write(tmp_path / "optional.py", _plugin_source("Optional", head=head))
    _, names = _archive(bundle(plugin, tmp_path / "out"))
    assert not [name for name in names if name.startswith("not_installed_rscni_opt")]
    assert capsys.readouterr().err == (
        f"warning: {plugin} imports 'not_installed_rscni_opt', which is not installed; the bundle leaves it out\n"
    )


def test_refuses_module_outside_any_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module found on sys.path that no distribution owns and that is not next to the plugin cannot be vendored."""
    _write(tmp_path / "elsewhere" / "stray_rscni_mod.py", "")
    monkeypatch.syspath_prepend(str(tmp_path / "elsewhere"))
    plugin = _write(
        tmp_path / "plug" / "stray.py", _plugin_source("Stray", head="\ndef _lazy():\n    import stray_rscni_mod\n")
    )
    with pytest.raises(BundleError) as caught:
        bundle(plugin, tmp_path / "out")
    assert str(caught.value) == (
        f"{plugin} imports 'stray_rscni_mod', which belongs to no installed distribution and is not next to the "
        "plugin, so it cannot be bundled"
    )


def test_optional_import_of_an_unbundleable_module_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The layout of examples/veth: a package import that works in the source tree, a sibling import as fallback."""
    _write(tmp_path / "tree" / "srcpkg_rscni" / "__init__.py", "")
    _write(tmp_path / "tree" / "srcpkg_rscni" / "helper.py", "")
    monkeypatch.syspath_prepend(str(tmp_path / "tree"))
    _write(tmp_path / "plug" / "helper.py", "VALUE = 1\n")
    head = "\ntry:\n    from srcpkg_rscni import helper\nexcept ImportError:\n    import helper\n"
    plugin = _write(tmp_path / "plug" / "fallback.py", _plugin_source("Fallback", head=head))
    _, names = _archive(bundle(plugin, tmp_path / "out"))
    assert ("helper.py" in names, [name for name in names if name.startswith("srcpkg_rscni")]) == (True, [])
    assert capsys.readouterr().err == (
        f"warning: {plugin} imports 'srcpkg_rscni' inside try/except ImportError; it belongs to no installed "
        "distribution and is not next to the plugin, so the bundle leaves it out\n"
    )


def test_module_left_out_as_optional_is_refused_where_required(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Optional in the plugin, required in a sibling module: the sibling would fail in the bundle, so refuse."""
    _write(tmp_path / "elsewhere" / "stray_rscni_mod.py", "")
    monkeypatch.syspath_prepend(str(tmp_path / "elsewhere"))
    sibling = _write(tmp_path / "plug" / "zz_sibling_rscni.py", "import stray_rscni_mod\n")
    head = "\nimport zz_sibling_rscni\ntry:\n    import stray_rscni_mod\nexcept ImportError:\n    pass\n"
    plugin = _write(tmp_path / "plug" / "mixed.py", _plugin_source("Mixed", head=head))
    with pytest.raises(BundleError) as caught:
        bundle(plugin, tmp_path / "out")
    assert str(caught.value) == (
        f"{sibling} imports 'stray_rscni_mod', which belongs to no installed distribution and is not next to the "
        "plugin, so it cannot be bundled"
    )


def test_core_requirements_from_installed_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed rscni-py: its Requires-Dist decides, and the extras' requirements stay out."""
    requires = {
        "rscni-py": [
            "dataclasses-json<0.7,>=0.6",
            "typing-extensions>=4.12",
            'pytest>=7; extra == "test"',
            'pyroute2>=0.7; extra == "netlink"',
            'tomli; python_version < "3.11"',
        ]
    }

    def fake_requires(name: str) -> list[str] | None:
        return requires.get(name)

    monkeypatch.setattr(importlib.metadata, "requires", fake_requires)
    target = bundle_module._Target(
        shebang=PYTHON, executable=PYTHON, version=(3, 11, 7), stdlib=frozenset(), markers=ENV
    )
    assert bundle_module._core_requirements(target) == [
        ("dataclasses-json", frozenset()),
        ("typing-extensions", frozenset()),
    ]


def _required(*names: str) -> dict[str, bool]:
    return dict.fromkeys(names, False)


IMPORTS: list[tuple[str, str, str | None, dict[str, bool]]] = [
    ("plain", "import a.b, c", None, _required("a.b", "c")),
    ("from-names-may-be-modules", "from a import b, c", None, _required("a", "a.b", "a.c")),
    ("star", "from a import *", None, _required("a")),
    ("inside-function", "def f():\n    import lazy", None, _required("lazy")),
    (
        "relative-in-package",
        "from . import x\nfrom .y import z",
        "pkg.sub",
        _required("pkg.sub", "pkg.sub.x", "pkg.sub.y", "pkg.sub.y.z"),
    ),
    ("relative-parent", "from ..up import w", "pkg.sub", _required("pkg.up", "pkg.up.w")),
    ("relative-too-deep", "from ... import w", "pkg.sub", {}),
    ("relative-at-top-level", "from . import x", None, {}),
    (
        "type-checking-skipped",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import hidden\nelse:\n    import shown",
        None,
        _required("typing", "typing.TYPE_CHECKING", "shown"),
    ),
    (
        "typing-dot-type-checking",
        "import typing\nif typing.TYPE_CHECKING:\n    import hidden",
        None,
        _required("typing"),
    ),
    (
        "try-import-error",
        "try:\n    import fast\nexcept ImportError:\n    import slow",
        None,
        {"fast": True, "slow": False},
    ),
    (
        "try-module-not-found",
        "try:\n    from a import b\nexcept (KeyError, ModuleNotFoundError):\n    pass",
        None,
        {"a": True, "a.b": True},
    ),
    ("try-bare-except", "try:\n    import a\nexcept:\n    pass", None, {"a": True}),
    ("try-other-error", "try:\n    import a\nexcept KeyError:\n    pass", None, _required("a")),
    (
        "try-else-and-finally",
        "try:\n    import a\nexcept ImportError:\n    pass\nelse:\n    import b\nfinally:\n    import c",
        None,
        {"a": True, "b": False, "c": False},
    ),
    ("guarded-and-unguarded", "try:\n    import a\nexcept ImportError:\n    pass\nimport a", None, _required("a")),
    (
        "nested-function-in-try",
        "try:\n    def f():\n        import a\nexcept ImportError:\n    pass",
        None,
        {"a": True},
    ),
]


@pytest.mark.parametrize(("source", "package", "expected"), [c[1:] for c in IMPORTS], ids=[c[0] for c in IMPORTS])
def test_imported_modules(source: str, package: str | None, expected: dict[str, bool]) -> None:
    assert bundle_module._imported_modules(source, Path("m.py"), package) == expected


def test_follows_imports_through_rscni_py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party module imported by a part of rscni_py the plugin uses is vendored; unused parts add nothing."""
    package = tmp_path / "root" / "rscni_py"
    shutil.copytree(Path(rscni_py.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "netlink_helpers.py").write_text("import sortedcontainers\n")
    (package / "unused_helpers.py").write_text("import pyroute2\n")
    monkeypatch.setattr(rscni_py, "__file__", str(package / "__init__.py"))
    # Lazy, so that the build-time import does not need the module the real package lacks.
    plugin = _write(
        tmp_path / "uses.py", _plugin_source("Uses", head="\ndef _lazy():\n    from rscni_py import netlink_helpers\n")
    )
    _, names = _archive(bundle(plugin, tmp_path / "out"))
    assert "sortedcontainers/__init__.pyc" in names
    assert "rscni_py/unused_helpers.pyc" in names
    assert not [name for name in names if name.startswith("pyroute2/")]
