"""Mutation score of the protocol core: ``make mutate`` (cosmic-ray; not part of ``make test``, too slow).

Each target below is one module of the core, the functions in it that hold protocol rules, and the unit tests
that pin those rules.  For each target, cosmic-ray changes one thing at a time in those functions (a comparison, a
boolean operator, a constant, a loop, ...) and runs the tests; a change the tests do not notice "survives".  The
run works on a copy of the tracked files in a temporary directory (cosmic-ray edits the files it mutates), one
copy per target so targets can run side by side, and prints the kill ratio per target and in total, then every
survivor: either one of ``EQUIVALENT`` (a change that cannot alter behaviour, with the reason) or a gap to close.
The last figure and its date are in tests/README.md.

Usage: ``python tests/mutation/run.py [--jobs N] [TARGET ...]``; exit 1 when a survivor is not a known equivalent.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Target:
    name: str
    module: str
    #: Top-level functions (or ``Class.method``) whose bodies are mutated.
    functions: tuple[str, ...]
    tests: tuple[str, ...]


TARGETS = (
    Target(
        "dispatch",
        "rscni_py/protocol/dispatch.py",
        (
            "_serve",
            "_read_stdin",
            "_load_config",
            "_utf8_text",
            "_text_depth_exceeds",
            "_brackets_outside_strings",
            "_check_version",
            "_deadline",
            "_render_result",
        ),
        ("tests/test_dispatch.py", "tests/test_limits.py", "tests/test_boundaries.py", "tests/test_dispatch_edges.py"),
    ),
    Target(
        "env",
        "rscni_py/protocol/env.py",
        ("_safe_name", "validate_container_id", "validate_network_name", "validate_ifname", "_byte_length", "read_env"),
        ("tests/test_dispatch.py", "tests/test_boundaries.py"),
    ),
    Target(
        "versions",
        "rscni_py/_base/versions.py",
        ("parse_version", "config_version", "at_least"),
        ("tests/test_versions.py", "tests/test_dispatch.py", "tests/test_invoke.py"),
    ),
    Target(
        "convert",
        "rscni_py/types/convert.py",
        (
            "family_of_result",
            "_v02_to_v04",
            "_v04_to_v02",
            "_v04_to_v10",
            "_v10_to_v04",
            "_v02_to_v10",
            "_v10_to_v02",
            "convert_result",
        ),
        ("tests/types/test_result_convert.py", "tests/types/test_result_golden.py", "tests/types/test_prev_result.py"),
    ),
    Target(
        "codec",
        "rscni_py/types/codec.py",
        (
            "_is_mac",
            "_exact",
            "_address_parser",
            "_JSONCompiler.address",
            "_JSONCompiler.union",
            "_JSONCompiler.optional",
            "_compile_literal",
            "_decode_class",
            "_encode_value",
            "_encode_object",
        ),
        (
            "tests/types/test_codec_validation.py",
            "tests/types/test_result_golden.py",
            "tests/types/test_result_parse.py",
            "tests/types/test_netconf_models.py",
            "tests/types/test_codec_engine_choice.py",
        ),
    ),
    Target(
        "addresses",
        "rscni_py/types/addresses.py",
        ("parse_cidr", "parse_ip"),
        ("tests/types/test_codec_validation.py", "tests/types/test_result_parse.py"),
    ),
    Target(
        "invoke",
        "rscni_py/invoke.py",
        ("_exit_text", "_quoted", "plugin_error", "_config_version", "exec_plugin_with_result", "get_version_info"),
        ("tests/test_invoke.py", "tests/test_boundaries.py"),
    ),
    Target("state-gc", "rscni_py/state.py", ("_key_of", "stale_attachments"), ("tests/test_state.py",)),
)

# Operators left out: arithmetic swaps other than + and - (mostly type errors, or the same as + and -), unary
# operators other than removing a `not`, comparisons across kinds (== into `is`, which only ever differs for odd
# objects), and the variable and decorator operators (noise: they change names, not rules).
EXCLUDED_OPERATORS = (
    r"core/ReplaceBinaryOperator_(Mul|Div|FloorDiv|Mod|Pow|RShift|LShift|BitOr|BitAnd|BitXor)_",
    r"core/ReplaceBinaryOperator_(Add|Sub)_(Mul|Div|FloorDiv|Mod|Pow|RShift|LShift|BitOr|BitAnd|BitXor)$",
    r"core/ReplaceUnaryOperator_(UAdd|USub|Invert|Delete_USub|Delete_Invert)",
    r"core/ReplaceComparisonOperator_(Eq|NotEq|Lt|LtE|Gt|GtE)_(Is|IsNot)$",
    r"core/ReplaceComparisonOperator_(Is|IsNot)_(Eq|NotEq|Lt|LtE|Gt|GtE)$",
    r"core/VariableInserter",
    r"core/VariableReplacer",
    r"core/RemoveDecorator",
)

# Survivors that cannot change behaviour: (module, source line stripped, column, operator) -> why.
_SORTS_FIRST = "no string sorts below the empty one, so <= '' is == ''"
_ZERO_IS_SUCCESS = "0 is success: a plugin that exits 0 never gets an exit text"
_DISPATCH = "rscni_py/protocol/dispatch.py"
_CMP = "core/ReplaceComparisonOperator_"
EQUIVALENT: dict[tuple[str, str, int, str], str] = {
    (_DISPATCH, 'if command == "" and plugin_cls.about:', 19, f"{_CMP}Eq_LtE"): _SORTS_FIRST,
    (_DISPATCH, 'return chunks[0] if len(chunks) == 1 else b"".join(chunks)', 18, "core/NumberReplacer"): "with "
    "one chunk, chunks[-1] is chunks[0]",
    ("rscni_py/protocol/env.py", 'if value == "":', 13, f"{_CMP}Eq_LtE"): _SORTS_FIRST,
    ("rscni_py/protocol/env.py", 'if value == "":', 17, f"{_CMP}Eq_LtE"): _SORTS_FIRST,
    ("rscni_py/_base/versions.py", 'if version == "":', 15, f"{_CMP}Eq_LtE"): _SORTS_FIRST,
    ("rscni_py/_base/versions.py", "numbers = [0, 0, 0]", 15, "core/NumberReplacer"): "the major part is always "
    "set from the text (an empty text returned earlier)",
    ("rscni_py/types/convert.py", 'if ip.version == "4" and ip4 is None:', 22, f"{_CMP}Eq_LtE"): "an IP's "
    'version is "4" or "6" (the model\'s Literal, checked by the codec), and "6" <= "4" is false',
    ("rscni_py/types/convert.py", 'elif ip.version == "6" and ip6 is None:', 24, f"{_CMP}Eq_GtE"): "an IP's "
    'version is "4" or "6", and "4" >= "6" is false',
    ("rscni_py/types/codec.py", "octets = (len(text) + 1) // 3", 30, "core/NumberReplacer"): "a colon MAC is 3n - 1 "
    "characters long: (3n + 1) // 3 is n as well",
    ("rscni_py/types/codec.py", "octets = 2 * ((len(text) + 1) // 5)", 35, "core/NumberReplacer"): "a dotted MAC is "
    "5n - 1 characters long: (5n + 1) // 5 is n as well",
    (
        "rscni_py/types/codec.py",
        "obj = cast(T, decode_dataclass(cls, {field.key: value for field, value in values}, False))",
        91,
        "core/ReplaceFalseWithTrue",
    ): "infer_missing only fills required fields that are missing, and the codec has refused those already",
    ("rscni_py/types/codec.py", 'if _engine == "native":', 15, f"{_CMP}Eq_GtE"): "the engine is one of two "
    'names, and of those only "native" is >= "native"',
    ("rscni_py/invoke.py", "if returncode >= 0:", 18, f"{_CMP}GtE_Gt"): _ZERO_IS_SUCCESS,
    ("rscni_py/invoke.py", "if returncode >= 0:", 21, "core/NumberReplacer"): _ZERO_IS_SUCCESS,
    ("rscni_py/invoke.py", 'if not isinstance(version, str) or version == "":', 47, f"{_CMP}Eq_LtE"): _SORTS_FIRST,
}


def function_lines(path: Path, names: tuple[str, ...]) -> list[str]:
    """The ``start-end`` line ranges of the named functions (``Class.method`` for methods)."""
    tree = ast.parse(path.read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = f"{node.lineno}-{node.end_lineno}"
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef):
                    found[f"{node.name}.{member.name}"] = f"{member.lineno}-{member.end_lineno}"
    missing = [name for name in names if name not in found]
    if missing:
        raise SystemExit(f"{path}: no function {', '.join(missing)}")
    return [found[name] for name in names]


def toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def write_config(workdir: Path, target: Target) -> Path:
    lines = ", ".join(toml_string(spec) for spec in function_lines(workdir / target.module, target.functions))
    excluded = ", ".join(toml_string(pattern) for pattern in EXCLUDED_OPERATORS)
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not integration"]
    config = workdir / "mutation.toml"
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = {toml_string(target.module)}\n"
        "timeout = 300.0\n"
        "excluded-modules = []\n"
        f"test-command = {toml_string(shlex.join([*command, *target.tests]))}\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = [{excluded}]\n"
        "[cosmic-ray.filters.line-filter.lines]\n"
        f"{toml_string(target.module)} = [{lines}]\n"
    )
    return config


def copy_tree(destination: Path) -> None:
    """The tracked files (and uncommitted edits to them) of this checkout, without build output or caches."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in listed.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)


@dataclass
class Outcome:
    target: Target
    killed: int
    survivors: list[tuple[int, int, str, str]]  # line, column, source line, operator
    skipped: int
    seconds: float

    @property
    def tried(self) -> int:
        return self.killed + len(self.survivors)


def run_target(target: Target) -> Outcome:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"rscni-mutate-{target.name}-") as tmp:
        workdir = Path(tmp)
        copy_tree(workdir)
        config = write_config(workdir, target)
        session = workdir / "session.sqlite"
        env = {**os.environ, "PYTHONPATH": str(workdir), "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("CI", None)  # a skip is not a kill, and nothing here should skip

        def cr(*argv: str) -> str:
            proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit(f"{target.name}: {' '.join(argv)} failed:\n{proc.stdout}{proc.stderr}")
            return proc.stdout

        cr(str(BIN / "cosmic-ray"), "init", str(config), str(session))
        cr(str(BIN / "cr-filter-operators"), str(session), str(config))
        cr(str(BIN / "cr-filter-lines"), str(session), "--config", str(config))
        cr(str(BIN / "cosmic-ray"), "exec", str(config), str(session))
        source = (workdir / target.module).read_text().splitlines()
        killed = skipped = 0
        survivors: list[tuple[int, int, str, str]] = []
        for line in cr(str(BIN / "cosmic-ray"), "dump", str(session)).splitlines():
            item, result = json.loads(line)
            if result is None:
                raise SystemExit(f"{target.name}: a mutant was not run: {item}")
            if result["worker_outcome"] == "skipped":
                skipped += 1
            elif result["worker_outcome"] == "normal" and result["test_outcome"] == "survived":
                mutation = item["mutations"][0]
                number, column = mutation["start_pos"]
                survivors.append((number, column, source[number - 1].strip(), mutation["operator_name"]))
            else:
                killed += 1  # the tests failed, or the mutant could not even be imported or timed out
    return Outcome(target, killed, sorted(survivors), skipped, time.monotonic() - start)


def report(outcomes: list[Outcome]) -> int:
    unexplained = equivalent = 0
    print(f"{'target':<10} {'killed':>7} {'tried':>6} {'ratio':>7} {'time':>7}")
    for outcome in outcomes:
        ratio = outcome.killed / outcome.tried if outcome.tried else 1.0
        counts = f"{outcome.killed:>7} {outcome.tried:>6} {ratio:>7.1%}"
        print(f"{outcome.target.name:<10} {counts} {outcome.seconds:>6.0f}s")
    killed, tried = sum(o.killed for o in outcomes), sum(o.tried for o in outcomes)
    print(f"{'total':<10} {killed:>7} {tried:>6} {killed / tried if tried else 1.0:>7.1%}")
    for outcome in outcomes:
        for number, column, text, operator in outcome.survivors:
            reason = EQUIVALENT.get((outcome.target.module, text, column, operator))
            unexplained += reason is None
            equivalent += reason is not None
            verdict = f"equivalent: {reason}" if reason else "SURVIVED"
            print(f"{outcome.target.module}:{number}:{column}: {operator}: {text}\n    {verdict}")
    relevant = tried - equivalent
    share = killed / relevant if relevant else 1.0
    print(f"equivalent survivors: {equivalent}; killed of the rest: {killed}/{relevant} = {share:.1%}")
    return 1 if unexplained else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=", ".join(t.name for t in TARGETS))
    parser.add_argument("--jobs", type=int, default=2, help="targets run side by side (default 2)")
    args = parser.parse_args(argv)
    unknown = set(args.targets) - {t.name for t in TARGETS}
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    chosen = [t for t in TARGETS if not args.targets or t.name in args.targets]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(pool.map(run_target, chosen))
    return report(outcomes)


if __name__ == "__main__":
    sys.exit(main())
