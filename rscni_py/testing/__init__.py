"""Test tools for CNI plugin authors: run a plugin in process, fake its delegates, check it against the protocol.

* :class:`PluginRunner` runs a ``CNIPlugin`` class with a runtime's inputs and returns an :class:`Invocation`
  (exit code, stdout, stderr, typed result or error, escaped exception); :meth:`PluginRunner.cycle` runs ADD,
  CHECK and DEL of one attachment.
* :class:`FakeExecutor` and :class:`ExecCall` stand in for delegated plugins (IPAM) and record what was run.
* The pytest plugin (loaded automatically once rscni-py is installed) provides the ``cni_runner`` and
  ``cni_config`` fixtures.
* :func:`install_script` makes a plugin script runnable by a runtime (a wrapper named after the plugin type).
* :mod:`rscni_py.testing.conformance` checks any plugin, in process or as an executable, against the protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rscni_py._base.lazy import LazyNames
from rscni_py.testing.runner import Cycle, Invocation, PluginRunner
from rscni_py.testing.scripts import install_script

if TYPE_CHECKING:
    from rscni_py.testing.fake_exec import ExecCall, FakeExecutor

__all__ = ["Cycle", "ExecCall", "FakeExecutor", "Invocation", "PluginRunner", "install_script"]

# Loaded on first use, so that importing the runner (the pytest plugin does, in every test session) does not load
# the delegation machinery.
_LAZY = LazyNames(__name__, {"ExecCall": "rscni_py.testing.fake_exec", "FakeExecutor": "rscni_py.testing.fake_exec"})

if not TYPE_CHECKING:
    __getattr__, __dir__ = _LAZY.module_getattr, _LAZY.module_dir
