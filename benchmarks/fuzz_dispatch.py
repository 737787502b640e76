"""Fuzz the CNI dispatcher with many generated cases and print what happened, then time the input limits.

The cases, plugins and invariant checks are those of ``tests/test_fuzz_dispatch.py``; the test suite runs a small,
derandomized budget, this script runs as many as asked (10 000 by default), split evenly over six kinds of input:

* ``bytes``: random bytes and text on stdin, any environment;
* ``json``: random JSON documents, any environment;
* ``valid``: valid configurations of every version (prevResults of every version), a valid environment;
* ``fitting``: the same, with a version the plugin supports and the command allows, so the plugin always runs;
* ``mutated``: valid configurations mutated and damaged as text, any environment;
* ``mutated-valid-env``: the same with a valid environment, so more of them reach the plugin.

It prints the count of each outcome (exit code, error code) per kind and overall, the elapsed time and the time spent
inside ``dispatch`` alone.  Any broken invariant stops the run with hypothesis's minimal failing case and exit code 1.

Usage::

    python benchmarks/fuzz_dispatch.py [--cases 10000] [--seed 0] [--kinds valid mutated ...] [--no-limits]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from rscni_py.protocol.dispatch import MAX_CONFIG_BYTES, MAX_JSON_DEPTH, dispatch
from tests.test_fuzz_dispatch import STDIN, Case, Observed, cases, check, fitting_cases, run_case

KINDS: dict[str, st.SearchStrategy[Case]] = {
    "bytes": cases(STDIN["bytes"]),
    "json": cases(STDIN["json"]),
    "valid": cases(STDIN["valid"], valid_env=True),
    "fitting": fitting_cases(),
    "mutated": cases(STDIN["mutated"]),
    "mutated-valid-env": cases(STDIN["mutated"], valid_env=True),
}


class Tally:
    """Counts of outcomes for one kind of input, and the time spent in ``dispatch``."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.dispatch_seconds = 0.0
        self.cases = 0

    def add(self, case: Case) -> None:
        start = time.perf_counter()
        seen: Observed = run_case(case)
        self.dispatch_seconds += time.perf_counter() - start
        outcome, code = check(case, seen)
        own = code is not None and code >= 100 and code != 999
        shown = "code >= 100 (the plugin's own)" if own else f"code {code}"
        label = f"exit {seen.code}: {outcome.value}" + (f", {shown}" if code is not None else "")
        if seen.calls:
            label += " (plugin called)"
        self.outcomes[label] += 1
        self.cases += 1


def fuzz(kind: str, strategy: st.SearchStrategy[Case], examples: int, rng_seed: int) -> Tally:
    tally = Tally()

    @seed(rng_seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(case: Case) -> None:
        tally.add(case)

    run()
    return tally


def print_tally(title: str, tally: Tally, elapsed: float) -> None:
    print(
        f"\n== {title}: {tally.cases} cases in {elapsed:.1f} s "
        f"({tally.dispatch_seconds:.2f} s inside dispatch, "
        f"{1000 * tally.dispatch_seconds / max(tally.cases, 1):.3f} ms/case)"
    )
    width = max((len(label) for label in tally.outcomes), default=10)
    for label, count in sorted(tally.outcomes.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {label:<{width}}  {count:>7}  {100 * count / max(tally.cases, 1):5.1f}%")


def time_limits() -> None:
    """Time the dispatcher on inputs at and beyond each documented limit (the plugin itself does nothing)."""
    from tests.recorder import Recorder
    from tests.test_dispatch import env_for
    from tests.test_fuzz_dispatch import Plain
    from tests.test_limits import config_with, nested

    def timed(title: str, make: Callable[[], tuple[dict[str, str], bytes]]) -> None:
        env, data = make()
        out = io.StringIO()
        start = time.perf_counter()
        code = dispatch(Plain, env, io.BytesIO(data), out, io.StringIO())
        elapsed = time.perf_counter() - start
        Recorder.reset()
        first = out.getvalue().replace("\n", " ")
        print(f"  {title:<48} exit {code}  {1000 * elapsed:8.1f} ms  {first[:90]}")

    padding = MAX_CONFIG_BYTES - 64
    print("\n== limits")
    timed("stdin of MAX_CONFIG_BYTES + 1 spaces", lambda: (env_for("ADD"), b" " * (MAX_CONFIG_BYTES + 1)))
    timed("valid config padded to 16 MiB - 64 bytes", lambda: (env_for("ADD"), config_with("x", "1") + b" " * padding))
    timed(
        "16 MiB array of small integers",
        lambda: (env_for("ADD"), config_with("x", "[" + "1," * (padding // 2 - 8) + "1]")),
    )
    timed(
        "16 MiB of one-element arrays",
        lambda: (env_for("ADD"), config_with("x", "[" + "[1]," * (padding // 4 - 8) + "[1]]")),
    )
    chain = "[" * (MAX_JSON_DEPTH - 2) + "1" + "]" * (MAX_JSON_DEPTH - 2)
    timed(
        f"16 MiB of arrays nested {MAX_JSON_DEPTH - 2} deep",
        lambda: (env_for("ADD"), config_with("x", "[" + ",".join([chain] * (padding // (len(chain) + 1))) + "]")),
    )
    deeper = "[" * (MAX_JSON_DEPTH - 1) + "1" + "]" * (MAX_JSON_DEPTH - 1)
    timed(
        f"16 MiB of arrays nested {MAX_JSON_DEPTH - 1} deep (refused)",
        lambda: (env_for("ADD"), config_with("x", "[" + ",".join([deeper] * (padding // (len(deeper) + 1))) + "]")),
    )
    timed(
        "16 MiB of strings holding brackets",
        lambda: (env_for("ADD"), config_with("x", "[" + ",".join(['"[\\"]"'] * (padding // 8 - 1)) + "]")),
    )
    timed(
        f"nesting at the limit ({MAX_JSON_DEPTH} levels)",
        lambda: (env_for("ADD"), config_with("x", nested(MAX_JSON_DEPTH - 1, "array"))),
    )
    timed("nesting 1 000 000 levels", lambda: (env_for("ADD"), config_with("x", nested(1_000_000, "array"))))
    timed("integer of 100 000 digits", lambda: (env_for("ADD"), config_with("x", "9" * 100_000)))
    timed(
        "CNI_ARGS with a 1 MiB value",
        lambda: (env_for("ADD", CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=" + "p" * (1 << 20)), config_with("x", "1")),
    )
    timed(
        "CNI_ARGS with 100 000 pairs",
        lambda: (
            env_for("ADD", CNI_ARGS="IgnoreUnknown=1;" + ";".join(f"K8S_POD_NAME=p{i}" for i in range(100_000))),
            config_with("x", "1"),
        ),
    )
    timed(
        "CNI_ARGS with 100 000 unknown pairs (strict)",
        lambda: (
            env_for("ADD", CNI_ARGS="IgnoreUnknown=0;" + ";".join(f"K{i}=v" for i in range(100_000))),
            config_with("x", "1"),
        ),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="total number of fuzz cases (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-limits", action="store_true", help="skip timing the input limits")
    parser.add_argument("--kinds", nargs="+", choices=sorted(KINDS), help="only these kinds of input (default: all)")
    options = parser.parse_args()

    kinds = {kind: KINDS[kind] for kind in options.kinds} if options.kinds else KINDS
    per_kind = max(1, options.cases // len(kinds))
    total = Tally()
    start_all = time.perf_counter()
    for index, (kind, strategy) in enumerate(kinds.items()):
        start = time.perf_counter()
        try:
            tally = fuzz(kind, strategy, per_kind, options.seed + index)
        except Exception as exc:
            print(f"\n!! invariant broken for {kind}:", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)  # with hypothesis's falsifying example in its notes
            return 1
        print_tally(kind, tally, time.perf_counter() - start)
        total.outcomes.update(tally.outcomes)
        total.dispatch_seconds += tally.dispatch_seconds
        total.cases += tally.cases
    print_tally("all kinds", total, time.perf_counter() - start_all)
    if not options.no_limits:
        time_limits()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
