"""pytest plugin for CNI plugin authors: fixtures that make a plugin's first test two lines long.

Loaded automatically once rscni-py is installed (entry point ``pytest11``: ``rscni_py``); without installing, add
``pytest_plugins = ["rscni_py.testing.pytest_plugin"]`` to a ``conftest.py``.

Fixtures:

* ``cni_runner``: a fresh :class:`~rscni_py.testing.PluginRunner`;
* ``cni_config``: a factory of minimal valid network configurations;
* ``cni_netns``: the path of a real, empty network namespace for this test (root only; the test is skipped
  otherwise), deleted afterwards.

::

    from rscni_py.testing import PluginRunner

    def test_add(cni_runner: PluginRunner) -> None:
        assert cni_runner.add(MyPlugin, {"cniVersion": "1.0.0", "name": "n", "type": "x"}).ok
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rscni_py.testing._netns import NetnsUnavailable, temporary_netns
from rscni_py.testing.runner import DEFAULT_NETWORK_NAME, PluginRunner

__all__ = ["ConfigFactory", "cni_config", "cni_netns", "cni_runner"]


class ConfigFactory:
    """Builds plugin configuration objects (SPEC.md §1): ``cniVersion``, ``name``, ``type`` and any other keys."""

    def __call__(
        self,
        plugin_type: str = "test",
        *,
        cni_version: str = "1.1.0",
        name: str = DEFAULT_NETWORK_NAME,
        **keys: Any,
    ) -> dict[str, Any]:
        """A configuration dict; ``keys`` are added as they are (``ipam={...}``, ``ipMasq=True``...)."""
        return {"cniVersion": cni_version, "name": name, "type": plugin_type, **keys}


@pytest.fixture
def cni_runner() -> PluginRunner:
    """A :class:`~rscni_py.testing.PluginRunner` with the default environment."""
    return PluginRunner()


@pytest.fixture
def cni_config() -> ConfigFactory:
    """A factory: ``cni_config("bridge", cni_version="1.0.0", bridge="br0")`` gives a configuration dict."""
    return ConfigFactory()


@pytest.fixture
def cni_netns() -> Iterator[str]:
    """A real, empty network namespace for one test (its path); skips the test when not root."""
    try:
        with temporary_netns() as path:
            yield path
    except NetnsUnavailable as exc:
        pytest.skip(str(exc))
