"""Run every model test under both codec engines (dataclasses-json and the native one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rscni_py.types.codec import Engine, use_engine


@pytest.fixture(scope="session", autouse=True, params=["dataclasses-json", "native"])
def codec_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine: Engine = request.param
    previous = use_engine(engine)
    yield engine
    use_engine(previous)
