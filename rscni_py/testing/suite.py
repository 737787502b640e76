"""``ConformanceSuite``: the conformance kit as a pytest test class to subclass.

It imports pytest, hence its own module.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from rscni_py.testing.conformance import CHECK_NAMES, Case, Target

__all__ = ["ConformanceSuite"]


class ConformanceSuite:
    """Subclass it in a test module with a ``Test`` name and a ``target``; pytest then runs one test per check::

        class TestMyPlugin(ConformanceSuite):
            target = PluginTarget(MyPlugin)

    The checks run once per target (on the first test) and are cached; each test reports one check.
    """

    target: ClassVar[Target]

    @pytest.mark.parametrize("check", CHECK_NAMES)
    def test_conformance(self, check: str) -> None:
        """One conformance check: passes, fails with the spec rule and every failing case, or skips."""
        Case(type(self).target, check).verify()
