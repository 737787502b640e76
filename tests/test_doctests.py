"""The examples in the package's docstrings run and say what they show (doctest, one case per module)."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import rscni_py

MODULES = sorted(info.name for info in pkgutil.walk_packages(rscni_py.__path__, "rscni_py."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False, report=True)
    assert results.failed == 0
    # A module whose source shows an example must have run it (doctest finds only what it can import and reach).
    assert (results.attempted > 0) == (">>>" in inspect.getsource(module))


def test_some_modules_have_examples() -> None:
    assert sum(">>>" in inspect.getsource(importlib.import_module(name)) for name in MODULES) >= 8
