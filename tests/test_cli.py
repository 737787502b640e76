"""The ``rscni-py`` console script: ``exec`` output and exit codes, and the lazily loaded subcommand table."""

from __future__ import annotations

import argparse
import configparser
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rscni_py import cli
from rscni_py.errors import CNIError
from rscni_py.runtime import RuntimeConf
from rscni_py.runtime._cli import parse_cni_args
from tests.runtime_support import ROOT, conflist, debug_plugin, install_python_plugin, read_record


class Setup:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.bin = tmp_path / "bin"
        install_python_plugin(self.bin, "debug")
        self.out = tmp_path / "records"
        self.cache = tmp_path / "cache"

    def write(self, data: dict[str, Any], name: str = "net.conflist") -> str:
        path = self.tmp / name
        path.write_text(json.dumps(data))
        return str(path)

    def argv(self, command: str, conf: str, *extra: str, attach: bool = True) -> list[str]:
        args = ["exec", command, conf, "--cni-path", str(self.bin), "--cache-dir", str(self.cache)]
        if attach:
            args += ["--container-id", "c1", "--netns", "/var/run/netns/x"]
        return args + list(extra)


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_add_check_del_cycle(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    conf = setup.write(conflist("1.0.0", [debug_plugin(setup.out, capabilities={"mac": True})]))
    code, out, _ = run(
        setup.argv(
            "add",
            conf,
            "--args",
            "IgnoreUnknown=1;K8S_POD_NAME=web",
            "--capability-args",
            '{"mac": "c2:11:22:33:44:55", "ips": ["10.1.0.5"]}',
            "--ifname",
            "net0",
        ),
        capsys,
    )
    assert (code, json.loads(out)) == (0, {"cniVersion": "1.0.0"})
    record = read_record(setup.out / "c1-Add")
    assert record.env == {
        "CNI_COMMAND": "Add",
        "CNI_CONTAINERID": "c1",
        "CNI_IFNAME": "net0",
        "CNI_NETNS": "/var/run/netns/x",
        "CNI_PATH": str(setup.bin),
        "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=web",
    }
    assert record.stdin["runtimeConfig"] == {"mac": "c2:11:22:33:44:55"}
    assert "prevResult" not in record.stdin
    assert run(setup.argv("check", conf, "--ifname", "net0"), capsys)[:2] == (0, "")
    assert read_record(setup.out / "c1-Check").stdin["prevResult"] == {"cniVersion": "1.0.0"}
    assert run(setup.argv("del", conf, "--ifname", "net0"), capsys)[:2] == (0, "")
    assert read_record(setup.out / "c1-Del").stdin["prevResult"] == {"cniVersion": "1.0.0"}
    assert list((setup.cache / "results").iterdir()) == []


def test_gc_and_status(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    conf = setup.write(conflist("1.1.0", [debug_plugin(setup.out)]))
    assert run(setup.argv("add", conf), capsys)[0] == 0
    assert run(setup.argv("gc", conf, "--valid-attachments", "[]", attach=False), capsys)[:2] == (0, "")
    assert read_record(setup.out / "c1-Del").env["CNI_CONTAINERID"] == "c1"
    assert read_record(setup.out / "testnet-GC").stdin["cni.dev/valid-attachments"] == []
    assert run(setup.argv("status", conf, attach=False), capsys)[:2] == (0, "")
    assert read_record(setup.out / "testnet-Status").env["CNI_COMMAND"] == "Status"


def test_validate_prints_version_and_capabilities(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    plugins = [debug_plugin(setup.out, capabilities={"mac": True}), debug_plugin(setup.out, capabilities={"dns": True})]
    conf = setup.write(conflist("1.1.0", plugins))
    code, out, _ = run(setup.argv("validate", conf, attach=False), capsys)
    assert (code, json.loads(out)) == (0, {"cniVersion": "1.1.0", "capabilities": ["dns", "mac"]})


def test_cni_path_defaults_to_the_environment(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CNI_PATH", f"{setup.tmp}/none:{setup.bin}")
    conf = setup.write(conflist("1.1.0", [debug_plugin(setup.out)]))
    assert run(["exec", "status", conf, "--cache-dir", str(setup.cache)], capsys)[:2] == (0, "")
    assert read_record(setup.out / "testnet-Status").env["CNI_PATH"] == f"{setup.tmp}/none:{setup.bin}"


# What a failure prints: the CNI error JSON on stdout, exit 1. "<T>" stands for the test's tmp directory.
FAILURES: list[tuple[str, list[str], dict[str, Any], dict[str, Any]]] = [
    (
        "plugin-error",
        ["add"],
        conflist("1.0.0", [{"type": "debug"}]),
        {
            "cniVersion": "1.0.0",
            "code": 7,
            "msg": 'plugin type="debug" failed (add): cniOutput: required field missing',
        },
    ),
    (
        "missing-plugin",
        ["add"],
        conflist("0.4.0", [{"type": "nope"}]),
        {
            "cniVersion": "0.4.0",
            "code": 999,
            "msg": 'plugin type="nope" failed (add): failed to find plugin "nope" in path [<T>/bin]',
        },
    ),
    (
        "check-too-old",
        ["check"],
        conflist("0.3.1", [{"type": "debug"}]),
        {"cniVersion": "0.3.1", "code": 1, "msg": 'configuration version "0.3.1" does not support the CHECK command'},
    ),
    (
        "bad-args",
        ["add", "--args", "A=1;B"],
        conflist("1.0.0", [{"type": "debug"}]),
        {"cniVersion": "1.0.0", "code": 4, "msg": 'invalid CNI_ARGS pair "B"', "details": "A=1;B"},
    ),
    (
        "bad-capability-args",
        ["add", "--capability-args", "[1]"],
        conflist("1.0.0", [{"type": "debug"}]),
        {"cniVersion": "1.0.0", "code": 6, "msg": "--capability-args: expected a JSON object"},
    ),
    (
        "bad-valid-attachments",
        ["gc", "--valid-attachments", '[{"containerID": 1}]'],
        conflist("1.1.0", [{"type": "debug"}]),
        {
            "cniVersion": "1.1.0",
            "code": 6,
            "msg": '--valid-attachments[0]: expected {"containerID": string, "ifname": string}',
        },
    ),
    (
        "bad-container-id",
        ["del", "--container-id", "a b"],
        conflist("1.0.0", [{"type": "debug"}]),
        {"cniVersion": "1.0.0", "code": 4, "msg": "invalid characters in containerID", "details": "a b"},
    ),
    (
        "bad-config",
        ["add"],
        {"name": "n", "plugins": []},
        {"code": 7, "msg": "invalid network configuration in <T>/net.conflist: plugins: no plugins in list"},
    ),
]


@pytest.mark.parametrize(("argv", "data", "want"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES])
def test_failures_print_the_error_json(
    setup: Setup, capsys: pytest.CaptureFixture[str], argv: list[str], data: dict[str, Any], want: dict[str, Any]
) -> None:
    conf = setup.write(data)
    code, out, _ = run(setup.argv(argv[0], conf) + argv[1:], capsys)
    expected = {k: v.replace("<T>", str(setup.tmp)) if isinstance(v, str) else v for k, v in want.items()}
    assert (code, json.loads(out)) == (1, expected)


@pytest.mark.parametrize("command", ["add", "check", "del"])
def test_container_id_is_required_for_attachment_commands(
    setup: Setup, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    conf = setup.write(conflist("1.0.0", [{"type": "debug"}]))
    assert run(setup.argv(command, conf, attach=False), capsys) == (
        2,
        "",
        f"rscni-py exec: error: --container-id is required for {command}\n",
    )


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nope"],
        ["exec"],
        ["exec", "add"],
        ["exec", "frob", "x"],
        ["exec", "status", "x", "--timeout", "0"],
        ["exec", "status", "x", "--timeout", "inf"],
        ["exec", "status", "x", "--timeout", "soon"],
    ],
    ids=[
        "nothing",
        "unknown-subcommand",
        "no-command",
        "no-conflist",
        "unknown-command",
        "zero-timeout",
        "infinite-timeout",
        "timeout-not-a-number",
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    assert capsys.readouterr().err.startswith("usage: rscni-py")


def test_module_entry_point_help_lists_subcommands() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rscni_py", "--help"], capture_output=True, text=True, check=False, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "exec" in proc.stdout and "run a network configuration's plugin chain" in proc.stdout


def test_subcommand_modules_load_only_when_used() -> None:
    code = (
        "import sys\n"
        "from rscni_py import cli\n"
        "cli.build_parser()\n"
        "try:\n"
        "    cli.main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('rscni_py.runtime') or m == 'rscni_py.invoke'))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT, timeout=120
    )
    assert (proc.returncode, proc.stdout) == (0, "rscni-py 0.1.0\n[]\n"), proc.stderr


def test_a_new_row_in_the_table_is_a_new_subcommand(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []
    module = types.ModuleType("fake_subcommand")

    def add_fake_arguments(parser: argparse.ArgumentParser) -> None:
        calls.append("add")
        parser.add_argument("--level", type=int, required=True)

    def fake_main(ns: argparse.Namespace) -> int:
        calls.append(f"main {ns.level}")
        return int(ns.level)

    module.add_fake_arguments = add_fake_arguments  # type: ignore[attr-defined]
    module.fake_main = fake_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_subcommand", module)
    row = cli.Subcommand("fake", "a subcommand from elsewhere", "fake_subcommand", "add_fake_arguments", "fake_main")
    monkeypatch.setattr(cli, "SUBCOMMANDS", (*cli.SUBCOMMANDS, row))
    assert cli.main(["fake", "--level", "3"]) == 3
    assert calls == ["add", "main 3"]
    # Running another subcommand never asks this module for its arguments.
    with pytest.raises(SystemExit):
        cli.main(["exec", "--help"])
    assert calls == ["add", "main 3"]
    assert "a subcommand from elsewhere" in cli.build_parser().format_help()
    capsys.readouterr()


def test_a_row_without_its_module_is_left_out(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ghost = cli.Subcommand("ghost", "not installed", "rscni_py.tools.no_such_module", "add", "main")
    orphan = cli.Subcommand("orphan", "no package", "no_such_package.module", "add", "main")
    monkeypatch.setattr(cli, "SUBCOMMANDS", (*cli.SUBCOMMANDS, ghost, orphan))
    assert ghost not in cli.available_subcommands() and orphan not in cli.available_subcommands()
    assert cli.available_subcommands()[0].name == "exec"
    assert "ghost" not in cli.build_parser().format_help()
    with pytest.raises(SystemExit) as caught:
        cli.main(["ghost"])
    assert caught.value.code == 2
    assert "invalid choice: 'ghost'" in capsys.readouterr().err


def test_console_script_is_declared() -> None:
    setup_cfg = configparser.ConfigParser()
    setup_cfg.read(ROOT / "setup.cfg")
    scripts = [line.strip() for line in setup_cfg["options.entry_points"]["console_scripts"].splitlines() if line]
    assert "rscni-py = rscni_py.cli:main" in scripts


# --- CNI_ARGS parsing ------------------------------------------------------------------------------------------------

_KEYS = st.text(alphabet=st.characters(blacklist_characters=";="), min_size=1)
_VALUES = st.text(alphabet=st.characters(blacklist_characters=";"))


@given(st.lists(st.tuples(_KEYS, _VALUES), min_size=1))
def test_cni_args_round_trip(pairs: list[tuple[str, str]]) -> None:
    text = ";".join(f"{key}={value}" for key, value in pairs)
    assert parse_cni_args(text) == tuple(pairs)
    assert RuntimeConf(container_id="c1", args=parse_cni_args(text)).args_string() == text


@pytest.mark.parametrize(
    ("text", "bad"),
    [("A", "A"), ("A=1;", ""), ("=1", "=1"), ("A=1;;B=2", "")],
    ids=["no-equals", "trailing-separator", "empty-key", "empty-pair"],
)
def test_cni_args_bad_pairs(text: str, bad: str) -> None:
    with pytest.raises(CNIError) as caught:
        parse_cni_args(text)
    assert caught.value == CNIError(4, f"invalid CNI_ARGS pair {json.dumps(bad)}", text)
