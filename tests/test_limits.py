"""Input limits (docs/protocol.md, "Limits"): oversized stdin, deep nesting, huge numbers and long CNI_ARGS are
refused or handled with a clear error, bounded memory and no traceback."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rscni_py import CmdArgs, CNIArgs, CNIPlugin, K8sArgs, NetConf
from rscni_py.protocol.dispatch import MAX_CONFIG_BYTES, MAX_JSON_DEPTH, _text_depth_exceeds, dispatch
from rscni_py.types import Result, encode, json_field
from tests.test_dispatch import env_for, error

ROOT = Path(__file__).resolve().parent.parent
NOISY = ROOT / "tests" / "plugins" / "noisy.py"
TOO_DEEP = error(6, f"error decoding network config: JSON nested deeper than {MAX_JSON_DEPTH} levels")


@dataclass(kw_only=True)
class WalkedConf(NetConf):
    """A typed configuration with a list of strings the codec checks entry by entry."""

    names: list[str] = json_field(default_factory=list)


class Walker(CNIPlugin[WalkedConf, K8sArgs]):
    """Walks what it received with the recursive tools a plugin would use, and remembers its CNI_ARGS."""

    seen: ClassVar[list[CmdArgs[WalkedConf, K8sArgs]]] = []

    def add(self, args: CmdArgs[WalkedConf, K8sArgs]) -> Result:
        type(self).seen.append(args)
        # Each of these recurses once or more per level; the depth limit must leave them room.
        encode(args.config)
        copy.deepcopy(args.raw_config)
        json.dumps(args.raw_config, indent=4)
        return Result()

    def delete(self, args: CmdArgs[WalkedConf, K8sArgs]) -> None:
        type(self).seen.append(args)

    def check(self, args: CmdArgs[WalkedConf, K8sArgs]) -> None:
        pass


@pytest.fixture(autouse=True)
def _fresh_walker() -> None:
    Walker.seen = []


def serve(data: bytes, command: str = "ADD", *, stack_depth: int = 0, **env: str) -> tuple[int, Any, str]:
    """Dispatch to ``Walker`` from ``stack_depth`` extra frames down.

    Return the exit code, the stdout JSON (or None) and stderr.
    """
    out, err = io.StringIO(), io.StringIO()

    def call(levels: int) -> int:
        if levels:
            return call(levels - 1)
        return dispatch(Walker, env_for(command, **env), io.BytesIO(data), out, err)

    code = call(stack_depth)
    return code, json.loads(out.getvalue()) if out.getvalue() else None, err.getvalue()


def nested(levels: int, kind: str, leaf: str = "1") -> str:
    """``levels`` arrays (``[[1]]``) or objects (``{"k":{"k":1}}``) around ``leaf``."""
    if kind == "array":
        return "[" * levels + leaf + "]" * levels
    return '{"k":' * levels + leaf + "}" * levels


def config_with(key: str, value: str, version: str = "1.0.0") -> bytes:
    return f'{{"cniVersion":"{version}","name":"n","type":"walker","{key}":{value}}}'.encode()


# --- nesting depth ----------------------------------------------------------------------------------------------------
# The top-level object is level 1, so a value under a top-level key may itself nest MAX_JSON_DEPTH - 1 levels.

DEPTH_PLACES = [
    # (id, key under the configuration, levels the key's value adds besides the nested part, wrapper)
    ("config-unknown-key", "x", 0, "{}"),
    ("config-args", "args", 1, '{{"a":{}}}'),
    ("ipam-settings", "ipam", 1, '{{"type":"host-local","ranges":{}}}'),
    ("prevResult-unknown-key", "prevResult", 1, '{{"cniVersion":"1.0.0","x":{}}}'),
    ("prevResult-ips", "prevResult", 1, '{{"cniVersion":"1.0.0","ips":{}}}'),
    ("string-list-field", "names", 0, "{}"),
]


@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize(("key", "extra", "wrapper"), [p[1:] for p in DEPTH_PLACES], ids=[p[0] for p in DEPTH_PLACES])
def test_nesting_beyond_the_limit_is_refused(key: str, extra: int, wrapper: str, kind: str) -> None:
    inner = nested(MAX_JSON_DEPTH - 1 - extra + 1, kind)  # one level too many
    code, out, err = serve(config_with(key, wrapper.format(inner)))
    assert (code, out, err) == (1, TOO_DEEP, "")
    assert Walker.seen == []


@pytest.mark.parametrize("kind", ["array", "object"])
def test_nesting_at_the_limit_is_accepted_and_walkable_from_a_deep_stack(kind: str) -> None:
    # 300 frames of caller stack plus the SDK's and the plugin's recursive walkers still fit.
    code, out, err = serve(config_with("x", nested(MAX_JSON_DEPTH - 1, kind)), stack_depth=300)
    assert (code, out, err) == (0, {"cniVersion": "1.0.0"}, "")
    assert len(Walker.seen) == 1


@pytest.mark.parametrize(
    ("value", "msg"),
    [
        # Within the limit, the codec reports the first entry that is not a string, by its path.
        (nested(MAX_JSON_DEPTH - 2, "array", '"a"'), "invalid network config: names[0]: expected a string, got array"),
        (nested(MAX_JSON_DEPTH - 2, "object"), "invalid network config: names: expected an array, got object"),
    ],
    ids=["array-in-array", "object"],
)
def test_deep_value_in_a_typed_field_names_the_field(value: str, msg: str) -> None:
    code, out, _ = serve(config_with("names", value))
    assert (code, out) == (1, error(7, msg, version="1.0.0"))


@pytest.mark.parametrize("kind", ["array", "object"])
def test_nesting_past_the_parsers_recursion_limit_is_the_same_error(kind: str) -> None:
    code, out, err = serve(config_with("x", nested(200_000, kind)))
    assert (code, out, err) == (1, TOO_DEEP, "")


def test_a_top_level_array_is_measured_too() -> None:
    code, out, _ = serve(nested(MAX_JSON_DEPTH + 1, "array").encode())
    assert (code, out) == (1, TOO_DEEP)


def test_many_brackets_without_depth_are_fine() -> None:
    # Plenty of arrays and objects side by side: wide, not deep.
    wide = "[" + ",".join(['{"a":[1]}'] * 1_000) + "]"
    code, out, _ = serve(config_with("x", wide))
    assert (code, out) == (0, {"cniVersion": "1.0.0"})


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[" * 300, "b": '\\"{' * 300, "c": ["]" * 300]})
    code, out, _ = serve(config_with("x", text))
    assert (code, out) == (0, {"cniVersion": "1.0.0"})
    assert Walker.seen[0].raw_config["x"]["b"] == '\\"{' * 300


def test_depth_is_checked_before_parsing() -> None:
    # Measured on the text, before json.loads builds a single list: a document that is too deep is refused as such
    # even when it is broken further on, and a 16 MiB one costs no parsing (benchmarks/fuzz_dispatch.py times it).
    code, out, _ = serve(config_with("x", nested(MAX_JSON_DEPTH, "array") + ", broken"))
    assert (code, out) == (1, TOO_DEEP)


def test_sixteen_mib_of_arrays_one_level_too_deep_is_refused() -> None:
    chain = nested(MAX_JSON_DEPTH, "array")
    data = config_with("x", "[" + ",".join([chain] * ((MAX_CONFIG_BYTES - 100) // (len(chain) + 1))) + "]")
    assert len(data) <= MAX_CONFIG_BYTES
    assert serve(data)[:2] == (1, TOO_DEEP)


@pytest.mark.parametrize(
    "text",
    [
        '"',  # an unterminated string, and one ending in a backslash: still linear, never an error
        '"\\',
        '"\\"\\"\\"' * 1000,
        "]" * 200 + "[" * 200,
        "[" * 200,
        "]]]]" + "[[]" * 300,
    ],
)
def test_text_depth_check_survives_broken_text(text: str) -> None:
    # It runs before the parser, so it sees text that is not JSON: whatever it finds, the answer is code 6.
    code, out, err = serve(config_with("x", text))
    assert (code, out["code"], err) == (1, 6, "")


_json_trees = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(st.sampled_from('[]{}"\\a\u00e9\n\u2028')),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(st.sampled_from('[]{}"\\k')), inner, max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=500, derandomize=True, database=None, deadline=None)
@given(_json_trees, st.integers(0, 12), st.booleans(), st.sampled_from([None, 1]))
def test_text_depth_check_agrees_with_walking_the_objects(
    tree: object, limit: int, ascii_only: bool, indent: int | None
) -> None:
    text = json.dumps(tree, ensure_ascii=ascii_only, indent=indent).encode()
    assert _text_depth_exceeds(text, limit) == (_depth(tree) > limit)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=60), st.integers(0, 45), st.booleans())
def test_text_depth_check_agrees_on_runs_of_brackets(depths: list[int], limit: int, chained: bool) -> None:
    # Shapes that peel slowly: side by side (or one inside the next) nests of the given depths.
    if chained:
        text = "".join("[" * d + "1," for d in depths) + "1" + "".join("]" * d for d in reversed(depths))
        depth = sum(depths)
    else:
        text = "[" + ",".join(nested(d, "array") for d in depths) + "]"
        depth = 1 + max(depths)
    assert _text_depth_exceeds(text.encode(), limit) == (depth > limit)


def _depth(value: object) -> int:
    """How deeply arrays and objects nest in a parsed document (the oracle for the text check)."""
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
    if children is None:
        return 0
    return 1 + max(map(_depth, children), default=0)


@pytest.mark.parametrize("kind", ["array", "object"])
def test_deep_nesting_through_run_leaves_no_traceback(kind: str) -> None:
    stdin = config_with("x", nested(100_000, kind), "0.4.0")
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": "c1",
        "CNI_NETNS": "/var/run/netns/x",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": "/opt/cni/bin",
        "RSCNI_LOG_LEVEL": "DEBUG",
    }
    proc = subprocess.run(
        [sys.executable, str(NOISY)], input=stdin, env=env, capture_output=True, check=False, timeout=60
    )
    assert (proc.returncode, json.loads(proc.stdout)) == (1, TOO_DEEP)
    assert b"Traceback" not in proc.stderr
    assert b"RecursionError" not in proc.stderr


# --- huge numbers -----------------------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class RatioConf(NetConf):
    ratio: float = 1.0


class Ratio(CNIPlugin[RatioConf]):
    def add(self, args: CmdArgs[RatioConf, CNIArgs]) -> Result:
        return Result()

    def delete(self, args: CmdArgs[RatioConf, CNIArgs]) -> None:
        pass

    def check(self, args: CmdArgs[RatioConf, CNIArgs]) -> None:
        pass


def test_integer_too_large_for_a_float_field_names_the_field() -> None:
    out = io.StringIO()
    code = dispatch(Ratio, env_for("DEL"), io.BytesIO(config_with("ratio", "9" * 400)), out, io.StringIO())
    assert (code, json.loads(out.getvalue())) == (
        1,
        error(7, "invalid network config: ratio: number out of range: integer of 400 digits", version="1.0.0"),
    )


@pytest.mark.parametrize(
    ("literal", "shown"),
    [("1e400", "1e400"), ("-1e400", "-1e400"), ("1" * 400 + ".5", "1" * 37 + "...")],
    ids=["exponent", "negative", "long-mantissa"],
)
def test_number_beyond_the_float_range_is_code_6(literal: str, shown: str) -> None:
    # Python would read it as inf and later write it as Infinity, which is not JSON.
    code, out, _ = serve(config_with("x", literal))
    assert (code, out) == (1, error(6, f"error decoding network config: number {shown} is out of range"))


def test_smallest_and_largest_finite_numbers_are_kept() -> None:
    serve(config_with("x", "[1.7976931348623157e308, 5e-324, 1e-400]"))
    assert Walker.seen[0].raw_config["x"] == [1.7976931348623157e308, 5e-324, 0.0]


def test_integer_beyond_the_interpreters_digit_limit_is_code_6() -> None:
    # Python refuses to convert integers of more than 4300 digits (sys.get_int_max_str_digits()); a clean code 6.
    # The wording is the interpreter's own and changed in 3.11 ("(4300)" became "(4300 digits)").
    limit = "(4300 digits)" if sys.version_info >= (3, 11) else "(4300)"
    code, out, err = serve(config_with("x", "9" * 100_000))
    assert (code, out, err) == (
        1,
        error(
            6,
            (
                f"error decoding network config: Exceeds the limit {limit} for integer string conversion: "
                "value has 100000 digits; use sys.set_int_max_str_digits() to increase the limit"
            ),
        ),
        "",
    )


def test_integer_at_the_digit_limit_is_kept() -> None:
    code, _, _ = serve(config_with("x", "9" * 4300))
    assert code == 0
    assert Walker.seen[0].raw_config["x"] == 10**4300 - 1


# --- stdin size -------------------------------------------------------------------------------------------------------

TOO_BIG = error(5, f"error reading from stdin: the network config is larger than {MAX_CONFIG_BYTES} bytes")


class CountingStream(io.RawIOBase):
    """A raw stream serving ``data`` (then ``filler`` forever, if given) at most ``chunk`` bytes per read."""

    def __init__(self, data: bytes = b"", filler: bytes = b"", chunk: int = 65536) -> None:
        self.data, self.filler, self.chunk, self.served = data, filler, chunk, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self.chunk)
        if self.served < len(self.data):
            piece = self.data[self.served : self.served + size]
        elif self.filler:
            piece = (self.filler * (size // len(self.filler) + 1))[:size]
        else:
            piece = b""
        buffer[: len(piece)] = piece
        self.served += len(piece)
        return len(piece)


def dispatch_stream(stream: Any) -> tuple[int, Any]:
    out = io.StringIO()
    code = dispatch(Walker, env_for("ADD"), stream, out, io.StringIO())
    return code, json.loads(out.getvalue())


@pytest.mark.parametrize("buffered", [False, True], ids=["raw", "buffered"])
def test_endless_stdin_is_refused_after_the_limit(buffered: bool) -> None:
    endless = CountingStream(filler=b" ")
    stream = io.BufferedReader(endless) if buffered else endless
    assert dispatch_stream(stream) == (1, TOO_BIG)
    # Only what the limit needs is read: one byte past it (plus a buffer's read-ahead when buffered).
    slack = io.DEFAULT_BUFFER_SIZE if buffered else 0
    assert MAX_CONFIG_BYTES + 1 <= endless.served <= MAX_CONFIG_BYTES + 1 + slack


def test_config_of_exactly_the_limit_is_accepted() -> None:
    config = config_with("x", "1")
    stream = CountingStream(config + b" " * (MAX_CONFIG_BYTES - len(config)))
    assert dispatch_stream(stream) == (0, {"cniVersion": "1.0.0"})
    assert stream.served == MAX_CONFIG_BYTES


def test_raw_stream_with_short_reads_is_read_to_its_end() -> None:
    # An unbuffered pipe returns what is there, not what was asked for; one byte at a time is the worst case.
    assert dispatch_stream(CountingStream(config_with("x", "[1, 2, 3]"), chunk=1)) == (0, {"cniVersion": "1.0.0"})
    assert Walker.seen[0].raw_config["x"] == [1, 2, 3]


def test_run_stops_reading_an_endless_stdin() -> None:
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": "c1",
        "CNI_NETNS": "/var/run/netns/x",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": "/opt/cni/bin",
    }
    proc = subprocess.Popen(
        [sys.executable, str(NOISY)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None
    written, block = 0, b" " * 65536
    try:
        while written < 4 * MAX_CONFIG_BYTES:  # the writer gives up long after the plugin must have
            proc.stdin.write(block)
            written += len(block)
    except BrokenPipeError:
        pass
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
        proc.stdin = None  # closed: communicate() must not flush it again
    stdout, stderr = proc.communicate(timeout=60)
    assert (proc.returncode, json.loads(stdout)) == (1, TOO_BIG), stderr
    assert written < 2 * MAX_CONFIG_BYTES  # the plugin quit reading (broken pipe) instead of draining it all
    assert b"Traceback" not in stderr


# --- CNI_ARGS size ----------------------------------------------------------------------------------------------------
# Linux caps one environment string at 128 KiB (MAX_ARG_STRLEN), so a real process never sees more; dispatch() takes
# any mapping, and parsing is linear, so no limit of our own is needed (timings: benchmarks/fuzz_dispatch.py).


def test_one_mebibyte_cni_args_value_is_parsed_whole() -> None:
    value = "p" * (1 << 20)
    code, _, _ = serve(config_with("x", "1"), CNI_ARGS=f"IgnoreUnknown=1;K8S_POD_NAME={value}")
    assert code == 0
    assert Walker.seen[0].cni_args.pod_name == value


def test_many_pairs_last_value_wins() -> None:
    pairs = ";".join(f"K8S_POD_NAME=pod-{i}" for i in range(100_000))
    code, _, _ = serve(config_with("x", "1"), CNI_ARGS=pairs)
    assert code == 0
    assert Walker.seen[0].cni_args.pod_name == "pod-99999"


def test_many_unknown_pairs_under_a_strict_class_are_all_named() -> None:
    unknown = [f"K{i}=v" for i in range(100_000)]
    raw = "IgnoreUnknown=0;" + ";".join(unknown)
    code, out, _ = serve(config_with("x", "1"), CNI_ARGS=raw)
    listed = " ".join(f'"{pair}"' for pair in unknown)
    assert (code, out) == (1, error(4, f"CNI_ARGS: unknown args [{listed}]", json.dumps(raw), version="1.0.0"))
