"""The codec engine chosen is the one used: the native engine never reaches dataclasses-json, the default does.

Both engines give the same objects (every model test runs under both, tests/types/conftest.py), so only this
test sees which one did the work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rscni_py.types import codec, parse_result
from rscni_py.types.codec import Engine, use_engine
from tests.types.test_result_golden import golden

PARSED = parse_result(golden("1.0.0"))


@pytest.mark.parametrize(("engine", "uses_library"), [("native", False), ("dataclasses-json", True)])
@pytest.mark.parametrize(
    "work",
    [lambda: parse_result(golden("1.0.0")), lambda: codec.encode(PARSED)],
    ids=["decode", "encode"],
)
def test_the_chosen_engine_does_the_work(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, uses_library: bool, work: Callable[[], Any]
) -> None:
    real = codec._dataclasses_json
    calls: list[str] = []

    def counted() -> Any:
        calls.append(engine)
        return real()

    monkeypatch.setattr(codec, "_dataclasses_json", counted)
    previous = use_engine(engine)
    try:
        work()
    finally:
        use_engine(previous)
    assert bool(calls) is uses_library
