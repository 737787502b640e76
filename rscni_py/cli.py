"""The ``rscni-py`` console script (also ``python -m rscni_py``): a table of subcommands.

Each subcommand lives in its own module, which provides ``add_<name>_arguments(parser)`` and ``<name>_main(ns) ->
int``. A module is imported only when its subcommand runs (or its ``--help`` is asked for), so ``rscni-py exec``
never pays for the others and a subcommand with optional dependencies cannot break the rest. To add a
subcommand, add a row to :data:`SUBCOMMANDS`; a row whose module is not part of this installation is left out.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["SUBCOMMANDS", "Subcommand", "available_subcommands", "build_parser", "main"]


@dataclass(frozen=True)
class Subcommand:
    """One row of the subcommand table."""

    #: The word on the command line.
    name: str
    #: One line for ``rscni-py --help``.
    help: str
    #: The module that implements it, imported on use.
    module: str
    #: Name of the function in ``module`` that adds the subcommand's arguments to its parser.
    add_arguments: str
    #: Name of the function in ``module`` that runs it with the parsed arguments and returns the exit code.
    main: str

    def available(self) -> bool:
        """Whether the module exists in this installation, found without importing it or its packages."""
        return _module_exists(self.module)

    def load(self) -> tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]:
        """Import the module and return its two functions."""
        module = importlib.import_module(self.module)
        add: Callable[[argparse.ArgumentParser], None] = getattr(module, self.add_arguments)
        run: Callable[[argparse.Namespace], int] = getattr(module, self.main)
        return add, run


#: Every subcommand, in the order ``--help`` lists them.
SUBCOMMANDS: Final[tuple[Subcommand, ...]] = (
    Subcommand(
        "exec",
        "run a network configuration's plugin chain: add, check, del, gc, status or validate (a local libcni)",
        "rscni_py.runtime._cli",
        "add_exec_arguments",
        "exec_main",
    ),
    Subcommand(
        "bundle",
        "pack a plugin module, rscni-py and its dependencies into one executable file",
        "rscni_py.tools.bundle",
        "add_bundle_arguments",
        "bundle_main",
    ),
    Subcommand(
        "install",
        "put a plugin executable (and its network configuration) where a container runtime finds them",
        "rscni_py.tools.install",
        "add_install_arguments",
        "install_main",
    ),
    Subcommand(
        "serve",
        "serve a plugin in warm mode: a resident daemon that forks a child per call (ready when the socket accepts)",
        "rscni_py.tools.serve",
        "add_serve_arguments",
        "serve_main",
    ),
    Subcommand(
        "shim",
        "build the static executable a runtime runs as a warm-mode plugin (shim build)",
        "rscni_py.tools.shim",
        "add_shim_arguments",
        "shim_main",
    ),
)


def _module_exists(name: str) -> bool:
    """Look a dotted module name up component by component with the path finder: unlike
    ``importlib.util.find_spec``, this never runs a package's ``__init__`` (which could import what the subcommand
    table is meant to load lazily)."""
    if name in sys.modules:
        return True
    parts = name.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return False
    for index in range(1, len(parts)):
        if spec is None or spec.submodule_search_locations is None:
            return False
        spec = importlib.machinery.PathFinder.find_spec(
            ".".join(parts[: index + 1]), list(spec.submodule_search_locations)
        )
    return spec is not None


def available_subcommands() -> tuple[Subcommand, ...]:
    """The rows of :data:`SUBCOMMANDS` whose module this installation has."""
    return tuple(entry for entry in SUBCOMMANDS if entry.available())


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only the ``selected`` subcommand's module is imported to add its arguments."""
    from rscni_py import __version__

    parser = argparse.ArgumentParser(
        prog="rscni-py",
        description="Tools around rscni-py, the Python SDK for CNI plugins.",
    )
    parser.add_argument("--version", action="version", version=f"rscni-py {__version__}")
    commands = parser.add_subparsers(dest="subcommand", metavar="COMMAND", required=True)
    for entry in available_subcommands():
        sub = commands.add_parser(entry.name, help=entry.help, description=entry.help)
        if entry.name == selected:
            add, _ = entry.load()
            add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console script; return the exit code (0 success, 1 failure, 2 usage error)."""
    args = list(sys.argv[1:] if argv is None else argv)
    names = {entry.name: entry for entry in available_subcommands()}
    # Top-level options take no values, so the first word that is not an option is the subcommand.
    selected = next((word for word in args if not word.startswith("-")), None)
    parser = build_parser(selected if selected in names else None)
    ns = parser.parse_args(args)
    _, run = names[ns.subcommand].load()
    return run(ns)
