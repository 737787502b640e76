"""Turn a plugin module into one executable file for a CNI bin directory.

A runtime starts a plugin once per command per pod, on a node that may have a Python interpreter but none of our
packages. The bundle is a standard-library zipapp: a ``#!<interpreter> -IS`` line followed by a zip archive that
holds the plugin module, the ``rscni_py`` package and every distribution they need at run time, each source file
next to a ``.pyc`` compiled by the target interpreter. Python imports straight from the archive (zipimport), so
nothing is unpacked, no temporary files are left behind and the ``.pyc`` files are used as they are.

``-I`` (isolated mode) makes the plugin ignore ``PYTHON*`` variables, the user's site directory and the current
directory; ``-S`` skips ``site`` and so the node's site-packages and their ``.pth`` hooks, which the bundle does not
need and which can cost more than the SDK itself (a pyenv interpreter with many packages spent 75 ms of CPU time
on them here). The two flags travel as one word because Linux passes everything after the interpreter as one argument.

The ``.pyc`` files are unchecked hash-based pycs (PEP 552): zipimport loads them without reading or hashing the
source. No timestamps are recorded anywhere, so the same inputs built to the same output file name (which appears
in tracebacks) give a byte-identical file.
"""

from __future__ import annotations

import argparse
import ast
import importlib.machinery
import importlib.metadata
import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, Final

from rscni_py.tools.install import atomic_write

__all__ = [
    "BundleError",
    "CORE_REQUIREMENTS",
    "SHEBANG_FLAGS",
    "add_bundle_arguments",
    "bundle",
    "bundle_main",
    "evaluate_marker",
]

#: rscni-py's own run-time requirements, for a source checkout that has no installed distribution metadata.
#: tests/test_bundle.py keeps this equal to install_requires in setup.cfg.
CORE_REQUIREMENTS: Final = ("dataclasses-json", "typing-extensions")
_DISTRIBUTION: Final = "rscni-py"
# The run-time requirement that only the default codec engine imports.
_MODEL_LIBRARY: Final = "dataclasses-json"
_PACKAGE: Final = "rscni_py"
_MIN_PYTHON: Final = (3, 10)
# zip cannot store times before 1980; a fixed time makes the archive reproducible.
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
#: Interpreter flags in the shebang: isolated mode, no site (see the module docstring).
SHEBANG_FLAGS: Final = "-IS"
_PROBE_TIMEOUT: Final = 60.0
_COMPILE_TIMEOUT: Final = 600.0

# Runs under the target interpreter: reports what the bundle is built for, including PEP 508 marker values.
_PROBE_SCRIPT: Final = r"""
import json, os, platform, sys
impl = sys.implementation.version
impl_version = "%d.%d.%d" % impl[:3]
if impl.releaselevel != "final":
    impl_version += impl.releaselevel[0] + str(impl.serial)
json.dump({
    "executable": sys.executable,
    "version": list(sys.version_info[:3]),
    "stdlib": sorted(getattr(sys, "stdlib_module_names", ())),  # 3.10+; older ones are refused by version
    "markers": {
        "os_name": os.name,
        "sys_platform": sys.platform,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_version": "%d.%d" % sys.version_info[:2],
        "python_full_version": platform.python_version(),
        "implementation_name": sys.implementation.name,
        "implementation_version": impl_version,
    },
}, sys.stdout)
"""

# Runs under the target interpreter: compiles [source, display name] pairs to legacy-placed .pyc files
# (``x.py`` -> ``x.pyc``, the only place zipimport looks) and prints one line per failure. It drops ``-c``'s
# current-directory entry from the path before importing anything (``-I`` would, but would also ignore the fixed
# hash seed ``_compile`` sets).
_COMPILE_SCRIPT: Final = r"""
import sys
del sys.path[0]
import json, py_compile
failures = []
for source, display in json.load(sys.stdin):
    try:
        py_compile.compile(source, cfile=source + "c", dfile=display, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError as exc:
        error = exc.exc_value
        line = getattr(error, "lineno", None)
        where = display if line is None else "%s:%s" % (display, line)
        failures.append("%s: %s: %s" % (where, exc.exc_type_name, getattr(error, "msg", error)))
json.dump(failures, sys.stdout)
"""

_ENTRY_TEMPLATE: Final = '''\
"""Entry point of a CNI plugin bundle built by rscni-py: run {cls} from {module}."""

from {module} import {cls}

{cls}.run()
'''


class BundleError(Exception):
    """Building a bundle failed; the message is one line meant for a person."""


# --- PEP 508 requirements and markers --------------------------------------------------------------------------
# Read with the packaging library (the bundle extra: pip install 'rscni-py[bundle]'), which pip itself follows.


def _packaging() -> ModuleType:
    try:
        import packaging.markers
        import packaging.requirements
        import packaging.utils
    except ImportError:
        raise BundleError("the bundler needs the packaging library: pip install 'rscni-py[bundle]'") from None
    return packaging


def _normalize(name: str) -> str:
    return str(_packaging().utils.canonicalize_name(name))


def evaluate_marker(marker: str, environment: Mapping[str, str]) -> bool:
    """Evaluate a PEP 508 environment marker (the part after ``;`` in a requirement) for a target interpreter.

    ``environment`` maps marker variables (``python_version``, ``sys_platform``, ``extra``...) to the target's
    values; one it lacks takes this interpreter's value.

    >>> evaluate_marker('python_version < "3.5"', {"python_version": "3.11"})
    False
    >>> evaluate_marker('extra == "dev" or os_name == "posix"', {"os_name": "posix", "extra": ""})
    True

    :raises ValueError: the marker is not valid PEP 508 syntax, or compares what the packaging library cannot.
    """
    markers = _packaging().markers
    try:
        return bool(markers.Marker(marker).evaluate(dict(environment)))
    except (markers.InvalidMarker, markers.UndefinedComparison, markers.UndefinedEnvironmentName) as exc:
        raise ValueError(f"invalid marker {marker!r}: {exc}") from None


def _parse_requirement(requirement: str) -> tuple[str, frozenset[str], str | None]:
    """Split a ``Requires-Dist`` value into (normalized name, extras, marker or None)."""
    found = _packaging().requirements
    try:
        parsed = found.Requirement(requirement)
    except found.InvalidRequirement as exc:
        raise ValueError(f"invalid requirement {requirement!r}: {exc}") from None
    extras = frozenset(_normalize(extra) for extra in parsed.extras)
    return _normalize(parsed.name), extras, (str(parsed.marker) if parsed.marker is not None else None)


def _wanted(marker: str | None, environment: Mapping[str, str], extras: frozenset[str]) -> bool:
    if marker is None:
        return True
    return any(evaluate_marker(marker, {**environment, "extra": extra}) for extra in ("", *sorted(extras)))


# --- the target interpreter ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """The interpreter named in the shebang, as it reported itself."""

    shebang: str
    executable: str
    version: tuple[int, ...]
    stdlib: frozenset[str]
    markers: dict[str, str]


def _resolve_interpreter(python: str | None) -> str:
    if python is None:
        # The running interpreter's real file, so a bundle built from a venv names a node-wide interpreter.
        return str(Path(sys.executable).resolve())
    if os.sep not in python:
        found = shutil.which(python)
        if found is None:
            raise BundleError(f"--python {python}: not found on PATH")
        python = found
    # Keep symlinks: a venv's bin/python is meaningful as a path, resolving it would drop the venv.
    return os.path.abspath(python)


def _probe(interpreter: str) -> _Target:
    try:
        completed = subprocess.run(
            [interpreter, "-I", "-c", _PROBE_SCRIPT],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT,
            check=False,
        )
    except OSError as exc:
        raise BundleError(f"cannot run interpreter {interpreter}: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise BundleError(f"interpreter {interpreter} did not answer within {_PROBE_TIMEOUT:.0f} s") from None
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise BundleError(f"interpreter {interpreter} failed (exit {completed.returncode}): {last}")
    try:
        info = json.loads(completed.stdout)
        version = tuple(int(part) for part in info["version"])
        stdlib = frozenset(str(name) for name in info["stdlib"])
        markers = {str(k): str(v) for k, v in info["markers"].items()}
        executable = str(info["executable"])
    except (ValueError, TypeError, KeyError, AttributeError):
        raise BundleError(f"interpreter {interpreter} is not a Python 3 interpreter") from None
    if version[:2] < _MIN_PYTHON:
        raise BundleError(
            f"interpreter {interpreter} is Python {'.'.join(map(str, version))}; rscni-py needs "
            f"{'.'.join(map(str, _MIN_PYTHON))} or newer"
        )
    return _Target(shebang=interpreter, executable=executable, version=version, stdlib=stdlib, markers=markers)


def _shim_warning(target: _Target) -> str | None:
    real = os.path.realpath(target.executable)
    if os.path.realpath(target.shebang) == real or not os.path.exists(real):
        return None
    try:
        with open(target.shebang, "rb") as handle:
            head = handle.read(2)
    except OSError:
        return None
    if head != b"#!":
        return None
    return (
        f"warning: {target.shebang} is a script that starts {real}; every plugin call pays for that script "
        f"(a pyenv shim costs about 100 ms), so consider --python {real}"
    )


# --- the plugin module -----------------------------------------------------------------------------------------


@dataclass
class _Plugin:
    path: Path
    module_name: str
    class_name: str
    #: The class's ``codec``: a "native" plugin never imports dataclasses-json, so its bundle leaves it out.
    codec: str


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _import_plugin(path: Path, import_name: str, shown: Path, *, keep: bool = False) -> ModuleType:
    """Import the plugin file under ``import_name`` (not ``__main__``, so its main guard stays quiet).

    ``shown`` is the path as the user gave it, for messages. With ``keep`` (the warm-mode daemon, which serves the
    module), the module and its siblings stay imported and the plugin's directory stays on ``sys.path``.
    """
    spec = importlib.util.spec_from_file_location(import_name, path)
    if spec is None or spec.loader is None:
        raise BundleError(f"plugin {shown}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    # The plugin's own directory comes first, as it would when running it as a script, so that its sibling
    # modules import; dataclasses need the module in sys.modules while the class bodies run.
    sys.path.insert(0, str(path.parent))
    before = set(sys.modules)
    sys.modules[import_name] = module
    failed = True
    try:
        spec.loader.exec_module(module)
        failed = False
    except SyntaxError as exc:
        where = f" at line {exc.lineno}" if exc.lineno else ""
        if exc.filename and Path(exc.filename) != path:
            where = f" in {exc.filename}{where}"
        raise BundleError(f"plugin {shown} has a syntax error{where}: {exc.msg}") from None
    except ImportError as exc:
        raise BundleError(f"plugin {shown} cannot be imported: {_one_line(exc)}") from None
    except SystemExit as exc:
        raise BundleError(
            f"plugin {shown} called sys.exit({exc.code!r}) while being imported "
            "(is run() called outside an 'if __name__ == \"__main__\":' block?)"
        ) from None
    except Exception as exc:
        raise BundleError(
            f"plugin {shown} raised {type(exc).__name__} while being imported: {_one_line(exc)}"
        ) from None
    finally:
        if failed or not keep:
            # Forget the plugin and the sibling modules it pulled in, so a later build sees fresh copies.
            for name in set(sys.modules) - before:
                if name == import_name or _is_below(getattr(sys.modules[name], "__file__", None), path.parent):
                    del sys.modules[name]
            if str(path.parent) in sys.path:
                sys.path.remove(str(path.parent))
    return module


def _is_below(file: str | None, directory: Path) -> bool:
    return file is not None and Path(file).resolve().is_relative_to(directory)


def _find_plugin_class(module: ModuleType, path: Path, class_name: str | None) -> str:
    """Name the one concrete ``CNIPlugin`` subclass defined in the plugin module (or check ``class_name``)."""
    import rscni_py
    from rscni_py.plugin import unimplemented

    base = rscni_py.CNIPlugin
    defined = {
        name: value
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, base)
        and value is not base
        and value.__module__ == module.__name__
        and value.__name__ == name
    }
    candidates = sorted(name for name, value in defined.items() if not inspect.isabstract(value))
    if class_name is not None:
        if class_name in candidates:
            return class_name
        value = getattr(module, class_name, None)
        if value is None:
            raise BundleError(f"plugin {path} has no class {class_name!r}")
        if not (inspect.isclass(value) and issubclass(value, base)):
            raise BundleError(f"plugin {path}: {class_name!r} is not a subclass of rscni_py.CNIPlugin")
        if inspect.isabstract(value):
            raise BundleError(f"plugin {path}: {class_name!r} is abstract: {unimplemented(value)}")
        raise BundleError(f"plugin {path}: {class_name!r} is imported from {value.__module__}, not defined here")
    if not candidates:
        abstract = "".join(f"; {name!r} is abstract: {unimplemented(value)}" for name, value in sorted(defined.items()))
        raise BundleError(f"plugin {path} defines no concrete subclass of rscni_py.CNIPlugin{abstract}")
    if len(candidates) > 1:
        raise BundleError(
            f"plugin {path} defines {len(candidates)} CNIPlugin subclasses ({', '.join(candidates)}); "
            "pick one with --class"
        )
    return candidates[0]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


# Exceptions that catch a failed import: an import in the body of a try with such a handler is optional.
_IMPORT_GUARDS: Final = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


# ``try``/``except*`` (3.11) has the same fields as ``try``; Python 3.10 neither parses nor knows it.
if sys.version_info >= (3, 11):
    _TRY_NODES: tuple[type[ast.stmt], ...] = (ast.Try, ast.TryStar)
else:
    _TRY_NODES = (ast.Try,)


def _guards_imports(node: ast.Try) -> bool:
    for handler in node.handlers:
        caught = handler.type
        kinds = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if caught is None or any(isinstance(kind, ast.Name) and kind.id in _IMPORT_GUARDS for kind in kinds):
            return True
    return False


def _imported_modules(source: str, path: Path, package: str | None) -> dict[str, bool]:
    """Dotted names of the modules ``source`` may import at run time, including imports inside functions, each with
    whether it is optional: imported only in the body of a ``try`` whose handler catches ``ImportError``.

    Relative imports are resolved against ``package`` (None for a top-level module, whose relative imports cannot
    work anyway). ``from X import y`` yields ``X`` and ``X.y``, since ``y`` may be a submodule. Imports under
    ``if TYPE_CHECKING:`` never run and are left out.
    """
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise BundleError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    names: dict[str, bool] = {}
    pending: list[tuple[ast.AST, bool]] = [(tree, False)]
    while pending:
        node, optional = pending.pop()
        found: list[str] = []
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend((child, optional) for child in node.orelse)
            continue
        if isinstance(node, _TRY_NODES) and _guards_imports(node):
            pending.extend((child, True) for child in node.body)
            pending.extend((child, optional) for child in [*node.handlers, *node.orelse, *node.finalbody])
            continue
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            elif package is not None and node.level <= package.count(".") + 1:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{node.module}" if node.module else parent
            else:
                continue
            if base:
                found.append(base)
                found.extend(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        for name in found:
            # A module imported anywhere without a guard is required.
            names[name] = names.get(name, True) and optional
        pending.extend((child, optional) for child in ast.iter_child_nodes(node))
    return names


# --- collecting files ------------------------------------------------------------------------------------------


@dataclass
class _Contents:
    """Files to put in the archive: archive name -> (source file on disk, where it came from)."""

    files: dict[str, tuple[Path, str]] = field(default_factory=dict)

    def add(self, arcname: str, source: Path, origin: str) -> None:
        self.files[arcname] = (source, origin)

    def add_tree(self, root: Path, arcprefix: str, origin: str) -> None:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and not _skipped(relative.parts):
                self.add(f"{arcprefix}/{relative.as_posix()}", path, origin)

    def top_level(self) -> set[str]:
        return {arcname.partition("/")[0].removesuffix(".py") for arcname in self.files}


def _skipped(parts: tuple[str, ...]) -> bool:
    # Cached bytecode of the build interpreter is useless to the target; we compile our own.
    return "__pycache__" in parts or parts[-1].endswith((".pyc", ".pyo"))


def _extension_module(arcname: str) -> str | None:
    """The dotted module name of a C extension file, whatever interpreter it was built for; None for other files."""
    if not arcname.endswith((*importlib.machinery.EXTENSION_SUFFIXES, ".so", ".pyd")):
        return None
    # A module name has no dots, so everything from the file name's first dot is the (ABI-tagged) suffix:
    # "_speedups.cpython-311-x86_64-linux-gnu.so" is "_speedups" under any Python version.
    folder, _, name = arcname.rpartition("/")
    return f"{folder}/{name.partition('.')[0]}".strip("/").replace("/", ".")


def _distribution_files(dist: importlib.metadata.Distribution, name: str, contents: _Contents) -> None:
    files = dist.files
    if files is None:
        raise BundleError(f"cannot bundle distribution {name}: it does not list its files (no RECORD)")
    for entry in files:
        parts = entry.parts
        # Skip metadata, scripts installed outside site-packages, .pth hooks and caches.
        if not parts or parts[0] == ".." or parts[0].endswith((".dist-info", ".egg-info")):
            continue
        if parts[-1].endswith(".pth") or _skipped(parts):
            continue
        source = Path(str(dist.locate_file(entry)))
        if source.is_file():
            contents.add("/".join(parts), source, f"distribution {name}")


def _collect_distributions(
    roots: Iterable[tuple[str, frozenset[str]]], target: _Target, contents: _Contents
) -> list[str]:
    """Add the files of ``roots`` and, recursively, of everything they require on the target interpreter."""
    pending = list(roots)
    seen: dict[str, frozenset[str]] = {}
    while pending:
        name, extras = pending.pop()
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, frozenset()) | extras
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise BundleError(f"required distribution {name} is not installed for {sys.executable}") from None
        _distribution_files(dist, name, contents)
        for requirement in dist.requires or ():
            try:
                dep, dep_extras, marker = _parse_requirement(requirement)
                wanted = _wanted(marker, target.markers, seen[name])
            except ValueError as exc:
                raise BundleError(f"distribution {name}: {exc}") from None
            if wanted:
                pending.append((dep, dep_extras))
    return sorted(seen)


def _core_requirements(target: _Target) -> list[tuple[str, frozenset[str]]]:
    try:
        requires = importlib.metadata.requires(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        requires = None
    if requires is None:
        return [(_normalize(name), frozenset()) for name in CORE_REQUIREMENTS]
    roots = []
    for requirement in requires:
        name, extras, marker = _parse_requirement(requirement)
        if _wanted(marker, target.markers, frozenset()):
            roots.append((name, extras))
    return roots


def _module_file(root: Path, name: str) -> tuple[Path, str | None] | None:
    """The source file of dotted module ``name`` under ``root`` and the package its relative imports start from."""
    base = root.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py", name
    if base.parent.joinpath(base.name + ".py").is_file():
        return base.parent / (base.name + ".py"), name.rpartition(".")[0] or None
    return None


def _collect(plugin: _Plugin, target: _Target) -> _Contents:
    import rscni_py

    contents = _Contents()
    package_dir = Path(rscni_py.__file__).parent
    contents.add_tree(package_dir, _PACKAGE, f"the {_PACKAGE} package")
    roots = _core_requirements(target)
    if plugin.codec == "native":
        roots = [(name, extras) for name, extras in roots if name != _MODEL_LIBRARY]

    # Follow imports from the plugin through its sibling modules and the parts of rscni_py it uses: siblings come
    # along, installed distributions are vendored with their requirements.
    plugin_dir = plugin.path.parent
    to_scan: list[tuple[Path, str | None]] = [(plugin.path, None)]
    scanned: set[Path] = set()
    decided: set[str] = {plugin.module_name}
    left_out: set[str] = set()  # found only by optional imports and not bundleable: left out, with a warning
    owners = importlib.metadata.packages_distributions()
    while to_scan:
        source_path, package = to_scan.pop()
        if source_path in scanned:
            continue
        scanned.add(source_path)
        imported = _imported_modules(source_path.read_text(encoding="utf-8"), source_path, package)
        for name in sorted(imported):
            top = name.partition(".")[0]
            if top == _PACKAGE:
                # Importing a.b.c runs a, a.b and a.b.c; names that are not modules (from a import Class) drop out.
                parts = name.split(".")
                for depth in range(1, len(parts) + 1):
                    found = _module_file(package_dir.parent, ".".join(parts[:depth]))
                    if found is not None:
                        to_scan.append(found)
                continue
            # A top-level name is optional here when every import of it in this file is.
            optional = all(flag for other, flag in imported.items() if other.partition(".")[0] == top)
            if top in left_out and not optional:
                raise BundleError(_unbundleable(source_path, top))
            if top in decided or top in target.stdlib:
                continue
            decided.add(top)
            if (plugin_dir / top / "__init__.py").is_file():
                contents.add_tree(plugin_dir / top, top, f"the plugin's package {top}")
                for file in sorted((plugin_dir / top).rglob("*.py")):
                    dotted = ".".join(file.relative_to(plugin_dir).with_suffix("").parts)
                    found = _module_file(plugin_dir, dotted.removesuffix(".__init__"))
                    if found is not None:
                        to_scan.append(found)
            elif (plugin_dir / f"{top}.py").is_file():
                contents.add(f"{top}.py", plugin_dir / f"{top}.py", f"the plugin's module {top}")
                to_scan.append((plugin_dir / f"{top}.py", None))
            elif top in owners:
                roots.extend((_normalize(owner), frozenset()) for owner in owners[top])
            elif _findable(top) and optional:
                left_out.add(top)
                print(
                    f"warning: {source_path} imports {top!r} inside try/except ImportError; it belongs to no installed "
                    "distribution and is not next to the plugin, so the bundle leaves it out",
                    file=sys.stderr,
                )
            elif _findable(top):
                raise BundleError(_unbundleable(source_path, top))
            else:
                print(
                    f"warning: {source_path} imports {top!r}, which is not installed; the bundle leaves it out",
                    file=sys.stderr,
                )
    _collect_distributions(roots, target, contents)

    for arcname, (_, origin) in contents.files.items():
        module = _extension_module(arcname)
        if module is not None:
            raise BundleError(
                f"cannot bundle {origin}: {module} is a C extension module, and extension modules cannot be "
                "imported from a zip file"
            )
    taken = contents.top_level()
    if plugin.module_name in taken:
        raise BundleError(
            f"plugin {plugin.path}: module name {plugin.module_name!r} clashes with a bundled package; rename the file"
        )
    contents.add(f"{plugin.module_name}.py", plugin.path, f"plugin {plugin.path}")
    return contents


def _unbundleable(source_path: Path, top: str) -> str:
    return (
        f"{source_path} imports {top!r}, which belongs to no installed distribution and is not next to the plugin, "
        "so it cannot be bundled"
    )


def _findable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


# --- writing the archive ---------------------------------------------------------------------------------------


def _compile(stage: Path, target: _Target, display_prefix: str) -> None:
    jobs = [
        [str(path), f"{display_prefix}/{path.relative_to(stage).as_posix()}"] for path in sorted(stage.rglob("*.py"))
    ]
    try:
        completed = subprocess.run(
            [target.shebang, "-s", "-c", _COMPILE_SCRIPT],
            input=json.dumps(jobs),
            # A fixed hash seed: Python 3.10 writes set constants in hash order, which varies from run to run, and
            # the same sources must give the same bundle. No other PYTHON* variable reaches the compiler.
            env={**{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}, "PYTHONHASHSEED": "0"},
            capture_output=True,
            text=True,
            timeout=_COMPILE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BundleError(f"compiling with {target.shebang} failed: {_one_line(exc)}") from None
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise BundleError(f"compiling with {target.shebang} failed: {last}")
    failures: list[str] = json.loads(completed.stdout)
    if failures:
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise BundleError(f"cannot compile for {target.shebang}: {failures[0]}{more}")


def _write_archive(out: IO[bytes], stage: Path, shebang: str) -> None:
    out.write(f"#!{shebang} {SHEBANG_FLAGS}\n".encode())
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in sorted(stage.rglob("*")):
            arcname = path.relative_to(stage).as_posix()
            if path.is_dir():
                # Directory entries let zipimport see namespace packages.
                info = zipfile.ZipInfo(arcname + "/", date_time=_ZIP_EPOCH)
                info.external_attr = (0o40755 << 16) | 0x10
                archive.writestr(info, b"")
            else:
                info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
                info.external_attr = 0o100644 << 16
                archive.writestr(info, path.read_bytes())


def bundle(plugin: Path, output: Path, *, python: str | None = None, class_name: str | None = None) -> Path:
    """Build a single-file executable that runs a plugin module's ``CNIPlugin`` subclass.

    :param plugin: a ``.py`` file defining exactly one concrete subclass of :class:`rscni_py.CNIPlugin` (or more,
        with ``class_name`` naming the one to run). It is imported once, under a name other than ``__main__``.
    :param output: the file to write; replaced atomically, mode 0755.
    :param python: the interpreter for the shebang and for compiling; defaults to the running interpreter's real
        path. A bare name is looked up on ``PATH``; symlinks are kept (a venv's ``bin/python`` stays a venv).
    :param class_name: which subclass to run when the module defines several.
    :returns: ``output``.
    :raises BundleError: with a one-line message for any bad input or failure.
    """
    if not plugin.exists():
        raise BundleError(f"plugin file not found: {plugin}")
    if not plugin.is_file():
        raise BundleError(f"plugin is not a file: {plugin}")
    module_name = plugin.stem
    if plugin.suffix != ".py" or not module_name.isidentifier():
        raise BundleError(f"plugin {plugin}: expected a Python module file named like name.py")
    target = _probe(_resolve_interpreter(python))
    if module_name in target.stdlib or module_name in {_PACKAGE, "__main__"}:
        raise BundleError(
            f"plugin {plugin}: module name {module_name!r} clashes with a standard module; rename the file"
        )
    if output.is_dir():
        raise BundleError(f"output is a directory: {output}")
    if output.resolve() == plugin.resolve():
        raise BundleError(f"output {output} is the plugin file itself; choose another name")
    warning = _shim_warning(target)
    if warning is not None:
        print(warning, file=sys.stderr)

    shown, plugin = plugin, plugin.resolve()
    module = _import_plugin(plugin, f"_rscni_py_bundle_{module_name}", shown)
    found = _find_plugin_class(module, shown, class_name)
    info = _Plugin(path=plugin, module_name=module_name, class_name=found, codec=getattr(module, found).codec)
    contents = _collect(info, target)

    with tempfile.TemporaryDirectory(prefix="rscni-py-bundle-") as tmp:
        stage = Path(tmp)
        for arcname, (source, _) in contents.files.items():
            destination = stage / arcname
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
        (stage / "__main__.py").write_text(_ENTRY_TEMPLATE.format(module=module_name, cls=info.class_name))
        _compile(stage, target, output.name)
        try:
            atomic_write(output, lambda out: _write_archive(out, stage, target.shebang), mode=0o755)
        except OSError as exc:
            raise BundleError(f"cannot write output {output}: {exc.strerror or exc}") from None
    return output


def add_bundle_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``rscni-py bundle`` arguments to ``parser`` (for :func:`bundle_main`)."""
    parser.add_argument("plugin", metavar="PLUGIN", type=Path, help="plugin module (.py) defining a CNIPlugin subclass")
    parser.add_argument("-o", "--output", type=Path, required=True, help="executable file to write")
    parser.add_argument(
        "--python",
        default=None,
        help="interpreter for the shebang and bytecode, an absolute path on the nodes "
        "(default: the real path of the interpreter running this command)",
    )
    parser.add_argument(
        "--class",
        dest="class_name",
        default=None,
        metavar="NAME",
        help="the CNIPlugin subclass to run, when the module defines more than one",
    )


def bundle_main(ns: argparse.Namespace) -> int:
    """Run ``rscni-py bundle`` for parsed arguments: print the output path, or one error line on stderr.

    :returns: the process exit code, 0 on success and 1 on failure.
    """
    try:
        output = bundle(ns.plugin, ns.output, python=ns.python, class_name=ns.class_name)
    except BundleError as exc:
        print(f"rscni-py bundle: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {output}")
    return 0
