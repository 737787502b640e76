"""Dispatcher rules that only a precise test sees: the exact stdout text, when the deadline is armed, when the
about text is printed, a depth check with nothing to measure (found by the mutation run, tests/mutation/run.py)."""

from __future__ import annotations

import io
import json

import pytest

from rscni_py.protocol.dispatch import dispatch
from rscni_py.protocol.signals import ProcessSignals
from tests.test_dispatch import WithAbout, env_for, error, run
from tests.test_limits import Walker, config_with, serve


class RecordingSignals(ProcessSignals):
    """The process's signal handling, recorded instead of installed."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float | None]] = []

    def arm_deadline(self, seconds: float) -> None:
        self.calls.append(("arm", seconds))

    def disarm(self) -> None:
        self.calls.append(("disarm", None))


class PatientWalker(Walker):
    deadline = 7.5


@pytest.mark.parametrize(
    ("plugin", "config", "calls"),
    [
        (Walker, config_with("x", "1"), [("disarm", None)]),
        (Walker, config_with("deadline", "2"), [("arm", 2.0), ("disarm", None)]),
        (PatientWalker, config_with("x", "1"), [("arm", 7.5), ("disarm", None)]),
        (PatientWalker, config_with("deadline", "0.5"), [("arm", 0.5), ("disarm", None)]),
    ],
    ids=["none", "from-config", "from-class", "config-wins"],
)
def test_deadline_is_armed_only_when_there_is_one(plugin: type[Walker], config: bytes, calls: list[object]) -> None:
    signals = RecordingSignals()
    out = io.StringIO()
    code = dispatch(plugin, env_for("ADD"), io.BytesIO(config), out, io.StringIO(), signals=signals)
    assert (code, json.loads(out.getvalue())) == (0, {"cniVersion": "1.0.0"})
    assert signals.calls == calls


def test_add_result_is_printed_as_go_prints_it() -> None:
    # Go's PrintResult: four-space indentation, no trailing newline.
    out = io.StringIO()
    code = dispatch(Walker, env_for("ADD"), io.BytesIO(config_with("x", "1", "0.4.0")), out, io.StringIO())
    assert (code, out.getvalue()) == (0, '{\n    "cniVersion": "0.4.0",\n    "dns": {}\n}')


def test_a_top_level_string_full_of_brackets_is_measured_and_refused_as_a_string() -> None:
    # Enough brackets for the depth check to look, all inside the string: nothing is left to measure.
    code, out, _ = serve(json.dumps("[{" * 200).encode())
    assert (code, out) == (1, error(6, "error decoding network config: expected a JSON object, got string"))


def test_about_text_is_only_for_a_missing_command() -> None:
    # Run by hand without CNI_COMMAND, a plugin with an about text prints it; any other bad environment is an error.
    out = run(env_for("ADD", CNI_CONTAINERID="<unset>"), b"", plugin=WithAbout)
    assert (out.code, out.json, out.stderr) == (1, error(4, "required env variables [CNI_CONTAINERID] missing"), "")
