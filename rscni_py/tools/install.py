"""Put a plugin executable and its network configuration where a container runtime finds them.

A runtime looks plugins up by name in its CNI bin directory (``/opt/cni/bin``) and reads network configurations
from its configuration directory (``/etc/cni/net.d``). It may do either at any moment, including while a DaemonSet
is replacing a plugin, so every file is written atomically: a hidden temporary file in the same directory is
written, flushed to disk, given its final mode and then renamed over the target. A reader sees the old file or the
new one, never a half-written one, and an executing old binary keeps its own inode (no "text file busy",
containernetworking/cni#763).

This module uses the standard library only, so it runs from a bundle or under any interpreter that can import
rscni_py.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final

from rscni_py.paths import ensure_trusted_dir

__all__ = [
    "DEFAULT_BIN_DIR",
    "DEFAULT_CONF_DIR",
    "InstallError",
    "add_install_arguments",
    "atomic_write",
    "install",
    "install_main",
    "missing_plugin_types",
    "validate_network_config",
]

#: Where runtimes look for plugin executables by default (containerd, CRI-O, Multus).
DEFAULT_BIN_DIR: Final = Path("/opt/cni/bin")
#: Where runtimes read network configurations from by default.
DEFAULT_CONF_DIR: Final = Path("/etc/cni/net.d")

# libcni's ConfFiles reads only these extensions; anything else in the directory is ignored.
_CONF_SUFFIXES: Final = (".conf", ".conflist", ".json")
_BINARY_MODE: Final = 0o755
_DIR_MODE: Final = 0o755
_CONF_MODE: Final = 0o644
_COPY_CHUNK: Final = 1 << 20


class InstallError(Exception):
    """Installing a plugin or its configuration failed; the message is one line meant for a person."""


def atomic_write(target: Path, write: Callable[[IO[bytes]], object], *, mode: int) -> None:
    """Create or replace ``target`` so that no reader ever sees partial content.

    ``write`` receives a binary file open on a temporary file in ``target``'s directory (its name starts with a dot
    and ends in ``.tmp``, so neither a runtime's plugin lookup nor its configuration scan picks it up). The file is
    fsynced, set to ``mode`` and renamed over ``target``, then the directory is fsynced so the rename survives a
    crash. Missing parent directories are created with mode 0755, whatever the umask. The directory must be reached
    through trusted directories only (SECURITY.md, section 9). On any failure the temporary file is removed.

    :raises OSError: the directory cannot be created or written, or is not trusted (``PermissionError``).
    :raises ValueError: the directory's path cannot name a file (NUL, lone surrogate, too long).
    """
    directory = target.parent
    if directory.exists() and not directory.is_dir():
        # mkdir would say "File exists", which hides the problem.
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(directory))
    ensure_trusted_dir(directory, create_mode=_DIR_MODE)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            # mkstemp creates the file 0600; set the final mode before it becomes visible under its real name.
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def validate_network_config(path: Path, data: bytes) -> None:
    """Check that ``data`` is a network configuration a runtime will load from a file named like ``path``.

    A ``.conflist`` must be a configuration list (an object with a string ``name`` and a non-empty ``plugins``
    array of objects with a string ``type``); a ``.conf`` or ``.json`` file must be a single network configuration
    (an object with a string ``type``). These are the checks libcni makes when it loads the file.

    :raises InstallError: naming the file and the offending field.
    """
    if path.suffix not in _CONF_SUFFIXES:
        raise InstallError(
            f"network config {path}: the file name must end in .conflist, .conf or .json (runtimes ignore other files)"
        )
    try:
        conf = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InstallError(f"network config {path} is not valid JSON: {exc}") from None
    if not isinstance(conf, dict):
        raise InstallError(f"network config {path}: expected a JSON object, got {type(conf).__name__}")
    if path.suffix == ".conflist":
        if not isinstance(conf.get("name"), str) or not conf["name"]:
            raise InstallError(f"network config list {path}: missing string field 'name'")
        plugins = conf.get("plugins")
        if not isinstance(plugins, list) or not plugins:
            raise InstallError(f"network config list {path}: missing non-empty array field 'plugins'")
        for index, plugin in enumerate(plugins):
            if not isinstance(plugin, dict) or not isinstance(plugin.get("type"), str) or not plugin["type"]:
                raise InstallError(f"network config list {path}: missing string field 'plugins[{index}].type'")
    elif not isinstance(conf.get("type"), str) or not conf["type"]:
        hint = " (a configuration list with 'plugins' must be named *.conflist)" if "plugins" in conf else ""
        raise InstallError(f"network config {path}: missing string field 'type'{hint}")


def _python_source_error(bundle: Path, head: bytes, is_zip: bool) -> str | None:
    """Why ``bundle`` should not be installed as it is, when it is Python source rather than a bundle.

    A bundle (``rscni-py bundle``) is a ``#!`` line followed by a zip archive that carries rscni-py and every
    dependency; a plain ``.py`` script runs only where the node's interpreter has all of them installed, which a node
    usually does not, and then every command of the network fails. ELF binaries and other scripts are not judged.
    """
    first_line = head.split(b"\n", 1)[0]
    looks_python = bundle.suffix == ".py" or (first_line.startswith(b"#!") and b"python" in first_line)
    if not looks_python or is_zip:
        return None
    return (
        f"{bundle} is Python source, not a bundle: it runs only where rscni-py and everything it imports are installed "
        f"for the node's interpreter; build a one-file bundle with 'rscni-py bundle {bundle}', "
        "or pass --allow-script to install it as it is"
    )


def missing_plugin_types(conf_data: bytes, bin_dir: Path, installing: str) -> list[str]:
    """The plugin ``type``s a (validated) network configuration names that are neither ``installing`` nor a file in
    ``bin_dir``: a runtime that finds them in none of its plugin directories fails every ADD on the network."""
    conf = json.loads(conf_data)
    types = [plugin["type"] for plugin in conf["plugins"]] if "plugins" in conf else [conf["type"]]
    return [t for t in dict.fromkeys(types) if t != installing and not (bin_dir / t).is_file()]


def _default_name(bundle: Path) -> str:
    # A runtime runs the plugin named by a config's "type", so the installed file carries no ".pyz".
    return bundle.stem if bundle.suffix == ".pyz" else bundle.name


def _check_name(name: str) -> None:
    if not name or name in {".", ".."} or "/" in name or "\0" in name:
        raise InstallError(f"invalid plugin name {name!r}: it must be a plain file name")


def _os_reason(exc: OSError | ValueError) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def install(
    bundle: Path,
    *,
    bin_dir: Path,
    name: str | None = None,
    conf: Path | None = None,
    conf_dir: Path | None = None,
    allow_script: bool = False,
    warn: Callable[[str], object] | None = None,
) -> list[Path]:
    """Install a plugin executable into a CNI bin directory and, optionally, its network configuration.

    The executable is installed first (mode 0755) so that a runtime that sees the new configuration can already
    run the plugin; the configuration follows (mode 0644). Both are written with :func:`atomic_write`.

    :param bundle: the plugin executable, usually made by ``rscni-py bundle``; any executable file works.
    :param bin_dir: the runtime's CNI bin directory; created if missing.
    :param name: the installed file name, which a config's ``type`` refers to; defaults to the bundle's name
        without a ``.pyz`` suffix.
    :param conf: a ``.conflist``/``.conf``/``.json`` file, validated before anything is written.
    :param conf_dir: where ``conf`` goes; defaults to :data:`DEFAULT_CONF_DIR`.
    :param allow_script: install Python source (a ``.py`` file or a ``#!...python`` script that is not a bundle)
        as it is; refused by default, since a node's interpreter rarely has rscni-py and the plugin's imports.
    :param warn: called with a one-line warning when ``conf`` names plugin types that are neither the executable
        installed now nor files in ``bin_dir`` (a runtime may still find them in another plugin directory).
    :returns: the installed paths, executable first.
    :raises InstallError: with a one-line message for any bad input or failed write.
    """
    name = _default_name(bundle) if name is None else name
    _check_name(name)
    conf_data: bytes | None = None
    if conf is not None:
        try:
            conf_data = conf.read_bytes()
        except FileNotFoundError:
            raise InstallError(f"network config not found: {conf}") from None
        except OSError as exc:
            raise InstallError(f"cannot read network config {conf}: {_os_reason(exc)}") from None
        validate_network_config(conf, conf_data)
    elif conf_dir is not None:
        raise InstallError("--conf-dir needs --conf")
    try:
        source = bundle.open("rb")
    except FileNotFoundError:
        raise InstallError(f"bundle not found: {bundle}") from None
    except IsADirectoryError:
        raise InstallError(f"bundle is a directory, not a file: {bundle}") from None
    except OSError as exc:
        raise InstallError(f"cannot read bundle {bundle}: {_os_reason(exc)}") from None

    installed: list[Path] = []
    binary = bin_dir / name
    target_dir = DEFAULT_CONF_DIR if conf_dir is None else conf_dir
    with source:
        if not allow_script:
            head = source.read(256)
            is_zip = zipfile.is_zipfile(source)
            source.seek(0)
            problem = _python_source_error(bundle, head, is_zip)
            if problem is not None:
                raise InstallError(problem)
        # Refuse obviously wrong destinations before writing anything.
        if bin_dir.exists() and not bin_dir.is_dir():
            raise InstallError(f"bin dir is not a directory: {bin_dir}")
        if conf is not None and target_dir.exists() and not target_dir.is_dir():
            raise InstallError(f"conf dir is not a directory: {target_dir}")
        try:
            # Whoever can add a file to the bin directory can add a plugin that runs as root: not even a sticky
            # directory others can write will do.
            ensure_trusted_dir(bin_dir, create_mode=_DIR_MODE, exclusive=True)
            atomic_write(binary, lambda out: shutil.copyfileobj(source, out, _COPY_CHUNK), mode=_BINARY_MODE)
        except (OSError, ValueError) as exc:
            raise InstallError(f"cannot install into bin dir {bin_dir}: {_os_reason(exc)}") from None
    installed.append(binary)

    if conf is not None and conf_data is not None:
        data = conf_data
        try:
            atomic_write(target_dir / conf.name, lambda out: out.write(data), mode=_CONF_MODE)
        except (OSError, ValueError) as exc:
            raise InstallError(f"cannot install into conf dir {target_dir}: {_os_reason(exc)}") from None
        installed.append(target_dir / conf.name)
        missing = missing_plugin_types(data, bin_dir, name)
        if missing and warn is not None:
            listed = ", ".join(repr(t) for t in missing)
            warn(
                f"network config {conf} names plugin type{'s' if len(missing) > 1 else ''} {listed}, found neither "
                f"among the executables installed now nor in {bin_dir}: the runtime fails every ADD on this network "
                "unless it finds them in another of its plugin directories"
            )
    return installed


def add_install_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``rscni-py install`` arguments to ``parser`` (for :func:`install_main`)."""
    parser.add_argument("bundle", metavar="BUNDLE", type=Path, help="plugin executable to install")
    parser.add_argument(
        "--bin-dir",
        type=Path,
        default=DEFAULT_BIN_DIR,
        help=f"CNI bin directory (default: {DEFAULT_BIN_DIR})",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="installed file name, the 'type' in network configs (default: BUNDLE's name without .pyz)",
    )
    parser.add_argument(
        "--conf",
        type=Path,
        default=None,
        help="network configuration (.conflist, .conf or .json) to install after the executable",
    )
    parser.add_argument(
        "--conf-dir",
        type=Path,
        default=None,
        help=f"CNI configuration directory (default: {DEFAULT_CONF_DIR})",
    )
    parser.add_argument(
        "--allow-script",
        action="store_true",
        help="install Python source as it is, instead of refusing it in favour of a one-file bundle",
    )


def install_main(ns: argparse.Namespace) -> int:
    """Run ``rscni-py install`` for parsed arguments: print each installed path, or one error line on stderr.

    :returns: the process exit code, 0 on success and 1 on failure.
    """
    try:
        paths = install(
            ns.bundle,
            bin_dir=ns.bin_dir,
            name=ns.name,
            conf=ns.conf,
            conf_dir=ns.conf_dir,
            allow_script=ns.allow_script,
            warn=lambda text: print(f"rscni-py install: warning: {text}", file=sys.stderr),
        )
    except InstallError as exc:
        print(f"rscni-py install: error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"installed {path}")
    return 0
