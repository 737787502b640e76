"""Every input limit at limit - 1, limit and limit + 1, on every path that enforces it.

The limits themselves are listed in docs/protocol.md ("Limits") and tested for their errors and their cost in
tests/test_limits.py; this file pins the exact edge of each one, deterministically, so an off-by-one anywhere (a
``>`` turned into ``>=``, a ``+ 1`` lost) fails a named case rather than only a random property run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rscni_py import CNIError
from rscni_py.invoke import plugin_error
from rscni_py.protocol.dispatch import MAX_CONFIG_BYTES, MAX_JSON_DEPTH, _text_depth_exceeds
from rscni_py.protocol.env import MAX_IFNAME_BYTES, validate_ifname
from rscni_py.runtime import RuntimeConf
from rscni_py.state import MAX_CONTAINER_ID_BYTES, AttachmentStore, InvalidKeyError
from tests.test_dispatch import error
from tests.test_limits import TOO_BIG, TOO_DEEP, CountingStream, Walker, config_with, dispatch_stream, nested, serve

EDGES = [("below", -1), ("at", 0), ("above", 1)]
EDGE_IDS = [name for name, _ in EDGES]
ACCEPTED = (0, {"cniVersion": "1.0.0"})

# --- stdin size (dispatch: MAX_CONFIG_BYTES) ------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [offset for _, offset in EDGES], ids=EDGE_IDS)
@pytest.mark.parametrize("chunk", [65536, 1024 * 1024 + 7], ids=["small-reads", "reads-past-a-chunk"])
def test_stdin_size(offset: int, chunk: int) -> None:
    config = config_with("x", "1")
    stream = CountingStream(config + b" " * (MAX_CONFIG_BYTES + offset - len(config)), chunk=chunk)
    assert dispatch_stream(stream) == ((1, TOO_BIG) if offset > 0 else ACCEPTED)
    assert stream.served == min(MAX_CONFIG_BYTES + offset, MAX_CONFIG_BYTES + 1)


# --- nesting depth (dispatch: MAX_JSON_DEPTH) -----------------------------------------------------------------------
# The top-level object is level 1, so a value nesting MAX_JSON_DEPTH - 1 levels under it is exactly at the limit.


@pytest.mark.parametrize("offset", [offset for _, offset in EDGES], ids=EDGE_IDS)
@pytest.mark.parametrize("kind", ["array", "object"])
def test_nesting_depth(offset: int, kind: str) -> None:
    code, out, err = serve(config_with("x", nested(MAX_JSON_DEPTH + offset - 1, kind)))
    assert (code, out, err) == ((1, TOO_DEEP, "") if offset > 0 else (0, {"cniVersion": "1.0.0"}, ""))


@pytest.mark.parametrize("offset", [offset for _, offset in EDGES], ids=EDGE_IDS)
def test_nesting_depth_of_a_top_level_array(offset: int) -> None:
    # Within the limit the array is refused for not being an object; beyond it, for its depth (checked first).
    code, out, _ = serve(nested(MAX_JSON_DEPTH + offset, "array").encode())
    expected = TOO_DEEP if offset > 0 else error(6, "error decoding network config: expected a JSON object, got array")
    assert (code, out) == (1, expected)


@pytest.mark.parametrize("offset", [offset for _, offset in EDGES], ids=EDGE_IDS)
def test_nesting_depth_with_brackets_in_strings_beside_it(offset: int) -> None:
    # Enough brackets inside strings to pass the bracket-count shortcut, with the real depth at the edge.
    value = json.loads(nested(MAX_JSON_DEPTH - 1 + offset, "array"))
    data = json.dumps({"cniVersion": "1.0.0", "name": "n", "type": "walker", "s": "[{" * 200, "x": value}).encode()
    code, out, _ = serve(data)
    assert (code, out) == ((1, TOO_DEEP) if offset > 0 else ACCEPTED)


def _chain(depth: int) -> Any:
    """``depth`` arrays, one inside the other."""
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def _full_tree(depth: int) -> Any:
    """``depth`` levels of arrays with two children each: the text check's halving passes run to the bottom."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value, value]
    return value


def _broom(depth: int) -> Any:
    """A wide level (halving goes on for a while), then a chain (halving stops), ``depth`` levels in all."""
    return [[_chain(depth - 2)] + [[] for _ in range(64)]]


SHAPES = {"chain": _chain, "full-tree": _full_tree, "broom": _broom}


@pytest.mark.parametrize("offset", [offset for _, offset in EDGES], ids=EDGE_IDS)
@pytest.mark.parametrize("limit", [3, 5, 8])
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("indent", [None, 1], ids=["compact", "indented"])
def test_text_depth_check_at_the_edge(offset: int, limit: int, shape: str, indent: int | None) -> None:
    text = json.dumps(SHAPES[shape](limit + offset), indent=indent).encode()
    assert _text_depth_exceeds(text, limit) is (offset > 0)


# --- quoting a failed plugin's output (invoke: 4096 characters) -----------------------------------------------------

QUOTED = 4096


@pytest.mark.parametrize("offset", [offset for _, offset in EDGES], ids=EDGE_IDS)
@pytest.mark.parametrize("char", ["x", "\u00e9"], ids=["ascii", "two-byte"])  # the limit counts characters
def test_quoted_output_of_a_failed_plugin(offset: int, char: str) -> None:
    said = char * (QUOTED + offset)
    shown = said[: QUOTED - 3] + "..." if offset > 0 else said  # cut to the limit, "..." included
    from_stdout = plugin_error("exit status 1", said.encode(), b"")
    from_stderr = plugin_error("exit status 1", b"", said.encode())
    parse_error = "Expecting value: line 1 column 1 (char 0)"
    assert (from_stdout, from_stderr) == (
        CNIError(0, f'netplugin failed but error parsing its diagnostic message "{shown}": {parse_error}'),
        CNIError(0, f'netplugin failed: "{shown}": exit status 1'),
    )


# --- interface names (env, runtime, state store: MAX_IFNAME_BYTES) ----------------------------------------------------

TOO_LONG_IFNAME = (
    "interface name is too long",
    f"interface name should be less than {MAX_IFNAME_BYTES + 1} characters",
)


def _ifname(size: int, wide: bool) -> str:
    # The limit counts bytes: a two-byte character each time it can, to show characters are not what counts.
    return "\u00e9" * (size // 2) + "a" * (size % 2) if wide else "a" * size


@pytest.mark.parametrize("offset", [offset for _, offset in EDGES], ids=EDGE_IDS)
@pytest.mark.parametrize("wide", [False, True], ids=["ascii", "two-byte"])
def test_ifname_length_in_every_path(offset: int, wide: bool, tmp_path: Path) -> None:
    ifname = _ifname(MAX_IFNAME_BYTES + offset, wide)
    assert len(ifname.encode()) == MAX_IFNAME_BYTES + offset
    refused = offset > 0
    outcomes: dict[str, object] = {}
    try:
        validate_ifname(ifname)
        outcomes["env"] = "ok"
    except CNIError as exc:
        outcomes["env"] = (exc.code, exc.msg, exc.details)
    try:
        RuntimeConf(container_id="c1", ifname=ifname).validate()
        outcomes["runtime"] = "ok"
    except CNIError as exc:
        outcomes["runtime"] = (exc.code, exc.msg, exc.details)
    try:
        AttachmentStore("net1", root=tmp_path).put("c1", ifname, {})
        outcomes["state"] = "ok"
    except InvalidKeyError as exc:
        outcomes["state"] = (exc.cni_code, exc.msg, exc.details)
    expected = (4, *TOO_LONG_IFNAME) if refused else "ok"
    assert outcomes == {"env": expected, "runtime": expected, "state": expected}
    # And through the dispatcher, as CNI_IFNAME.
    code, out, _ = serve(config_with("x", "1"), CNI_IFNAME=ifname)
    assert (code, out) == ((1, error(4, *TOO_LONG_IFNAME)) if refused else ACCEPTED)


@pytest.mark.parametrize(
    ("ifname", "error"),
    [
        ("", ("interface name is empty", "")),  # the lower bound
        ("a", None),
        ("\udcff" * MAX_IFNAME_BYTES, None),  # bytes that are not UTF-8 come as surrogates: one byte each
        ("\ud800" * 5, None),  # a lone surrogate no environment makes counts as the 3 bytes it would take
        ("\ud800" * 6, TOO_LONG_IFNAME),
    ],
    ids=["empty", "one-byte", "raw-bytes", "lone-surrogates-15", "lone-surrogates-18"],
)
def test_ifname_lower_bound_and_odd_bytes(ifname: str, error: tuple[str, str] | None) -> None:
    if error is None:
        validate_ifname(ifname)
        return
    with pytest.raises(CNIError) as info:
        validate_ifname(ifname)
    assert (info.value.code, info.value.msg, info.value.details) == (4, *error)


# --- state store keys: network name (255) and container ID ------------------------------------------------------------


@pytest.mark.parametrize("offset", [offset for _, offset in EDGES], ids=EDGE_IDS)
def test_state_network_name_length(offset: int, tmp_path: Path) -> None:
    name = "n" * (255 + offset)
    if offset > 0:
        with pytest.raises(InvalidKeyError) as info:
            AttachmentStore(name, root=tmp_path)
        assert (info.value.cni_code, info.value.msg, info.value.details) == (
            7,
            "network name is too long for the state store",
            "network name should be at most 255 characters",
        )
    else:
        store = AttachmentStore(name, root=tmp_path)
        store.put("c1", "eth0", {"n": 1})
        assert store.get("c1", "eth0") == {"n": 1}


@pytest.mark.parametrize("offset", [offset for _, offset in EDGES], ids=EDGE_IDS)
def test_state_container_id_length(offset: int, tmp_path: Path) -> None:
    container_id = "c" * (MAX_CONTAINER_ID_BYTES + offset)
    # The longest ifname too: the file name <containerID>:<escaped ifname>.json must still fit in 255 bytes.
    ifname = "\x00" * MAX_IFNAME_BYTES
    store = AttachmentStore("net1", root=tmp_path)
    if offset > 0:
        with pytest.raises(InvalidKeyError) as info:
            store.put(container_id, ifname, {})
        assert (info.value.cni_code, info.value.msg, info.value.details) == (
            4,
            "containerID is too long for the state store",
            f"containerID should be at most {MAX_CONTAINER_ID_BYTES} characters",
        )
    else:
        store.put(container_id, ifname, {"n": 1})
        assert store.get(container_id, ifname) == {"n": 1}
        assert len(store.path(container_id, ifname).name.encode()) <= 255


@pytest.mark.parametrize("pieces", [1, 2, 3])
def test_stdin_read_in_pieces_is_joined_whole(pieces: int) -> None:
    # A pipe hands over what it has: the configuration arrives in 1, 2 or 3 reads and must be read whole.
    config = config_with("x", '"' + "v" * 90 + '"')
    stream = CountingStream(config, chunk=-(-len(config) // pieces))
    assert dispatch_stream(stream) == ACCEPTED
    assert Walker.seen[-1].raw_config["x"] == "v" * 90


# --- the deadline (dispatch: more than 0, less than 86400 seconds) -------------------------------------------------

DEADLINE_LIMIT = 86400


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("-1", False),
        ("0", False),
        ("1e-9", True),
        ("1", True),
        (f"{DEADLINE_LIMIT - 1}", True),
        (f"{DEADLINE_LIMIT - 0.001}", True),
        (f"{DEADLINE_LIMIT}", False),
        (f"{DEADLINE_LIMIT + 1}", False),
        # Not numbers, although Python would compare them: a boolean is no number of seconds, nor is a string.
        ("true", False),
        ('"5"', False),
        ("null", True),  # no deadline
    ],
)
def test_deadline_bounds(value: str, accepted: bool) -> None:
    code, out, _ = serve(config_with("deadline", value))
    message = f"deadline: expected a number of seconds between 0 and {DEADLINE_LIMIT}, got {value}"
    assert (code, out) == (ACCEPTED if accepted else (1, error(7, message, version="1.0.0")))
