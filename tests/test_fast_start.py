"""Fast start (issue 7 item 3): what a plugin's cheap paths import, and the run-time stand-ins that make it so.

Module sets are asserted, never times; benchmarks/run.py prints the times.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@pytest.mark.parametrize(("alias", "expected"), [(c[1], c[2]) for c in GENERIC_CASES], ids=[c[0] for c in GENERIC_CASES])
def test_missing_generic_parameters_take_their_defaults(alias: Any, expected: tuple[type, ...]) -> None:
    assert get_args(alias) == expected


def test_too_many_generic_parameters_still_fail() -> None:
    with pytest.raises(TypeError, match="Too many arguments"):
        CNIPlugin[_Conf, K8sArgs, int]  # type: ignore[misc]  # noqa: B018


def test_one_parameter_plugin_derives_both_classes() -> None:
    class Plugin(CNIPlugin[_Conf]):
        def add(self, args: CmdArgs[_Conf]) -> Any:
            raise NotImplementedError

        def delete(self, args: CmdArgs[_Conf]) -> None:
            pass

        def check(self, args: CmdArgs[_Conf]) -> None:
            pass

    assert (Plugin.config_class, Plugin.args_class) == (_Conf, CNIArgs)
