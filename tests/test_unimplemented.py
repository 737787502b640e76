"""A plugin class left abstract (a command method missing or misspelled) names what is missing, and VERSION works."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from rscni_py import CmdArgs, CNIPlugin
from rscni_py.plugin import unimplemented
from rscni_py.protocol.dispatch import dispatch
from rscni_py.testing import PluginRunner
from rscni_py.types import Result

ROOT = Path(__file__).resolve().parent.parent
ATTACH_ENV = {"CNI_CONTAINERID": "ctr1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/"}


class Misspelled(CNIPlugin):
    """``delet`` instead of ``delete``: the class stays abstract."""

    supported_versions = ("0.4.0", "1.0.0")

    def add(self, args: CmdArgs) -> Result:
        return Result()

    def delet(self, args: CmdArgs) -> None:
        pass

    def check(self, args: CmdArgs) -> None:
        pass


class TwoWrong(CNIPlugin):
    def add(self, args: CmdArgs) -> Result:
        return Result()

    def cmd_del(self, args: CmdArgs) -> None:
        pass

    def chek(self, args: CmdArgs) -> None:
        pass

    def helper(self) -> None:
        pass


class Intermediate(Misspelled):
    """The misspelling is in a base class: still found."""


# mypy --strict already refuses an abstract class where a plugin class is expected ([type-abstract]); these tests
# are about what happens at run time when nobody ran it.
MISSPELLED: Any = Misspelled


class Complete(Misspelled):
    def delete(self, args: CmdArgs) -> None:
        pass


@pytest.mark.parametrize(
    ("cls", "text"),
    [
        (Misspelled, "it does not implement delete (delet looks like a misspelling of delete)"),
        (Intermediate, "it does not implement delete (delet looks like a misspelling of delete)"),
        (TwoWrong, "it does not implement check, delete (chek looks like a misspelling of check)"),
        (CNIPlugin, "it does not implement add, check, delete"),
        (Complete, ""),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_unimplemented_names_missing_methods_and_misspellings(cls: type[CNIPlugin[Any, Any]], text: str) -> None:
    assert unimplemented(cls) == text


def _serve(command: str, version: str) -> tuple[int, Any]:
    out = io.StringIO()
    stdin = json.dumps({"cniVersion": version, "name": "n", "type": "misspelled"}).encode()
    code = dispatch(MISSPELLED, {"CNI_COMMAND": command, **ATTACH_ENV}, io.BytesIO(stdin), out, io.StringIO())
    return code, json.loads(out.getvalue())


MESSAGE = "Misspelled cannot serve {}: it does not implement delete (delet looks like a misspelling of delete)"


@pytest.mark.parametrize(
    ("command", "version", "expected"),
    [
        ("VERSION", "1.0.0", (0, {"cniVersion": "1.1.0", "supportedVersions": ["0.4.0", "1.0.0"]})),
        # The error carries the configuration's version (1.0.0), not the newest one: the config was read first.
        ("ADD", "1.0.0", (1, {"cniVersion": "1.0.0", "code": 999, "msg": MESSAGE.format("ADD")})),
        ("CHECK", "0.4.0", (1, {"cniVersion": "0.4.0", "code": 999, "msg": MESSAGE.format("CHECK")})),
        ("DEL", "1.0.0", (1, {"cniVersion": "1.0.0", "code": 999, "msg": MESSAGE.format("DEL")})),
        # Even the method that exists is not run: the class is broken, and saying so at once is clearest.
        ("ADD", "0.4.0", (1, {"cniVersion": "0.4.0", "code": 999, "msg": MESSAGE.format("ADD")})),
    ],
)
def test_every_command_names_the_missing_method_and_version_still_answers(
    command: str, version: str, expected: tuple[int, Any]
) -> None:
    assert _serve(command, version) == expected


SCRIPT = """
    from rscni_py import CNIPlugin

    class Typo(CNIPlugin):
        def add(self, args):
            raise AssertionError("never called")

        def delet(self, args):
            pass

        def check(self, args):
            pass

    if __name__ == "__main__":
        Typo.run()
"""


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "VERSION",
            (
                0,
                {
                    "cniVersion": "1.1.0",
                    "supportedVersions": ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
                },
            ),
        ),
        (
            "ADD",
            (
                1,
                {
                    "cniVersion": "1.0.0",
                    "code": 999,
                    "msg": (
                        "Typo cannot serve ADD: it does not implement delete (delet looks like a misspelling of delete)"
                    ),
                },
            ),
        ),
    ],
)
def test_misspelled_plugin_as_a_process(tmp_path: Path, command: str, expected: tuple[int, Any]) -> None:
    script = tmp_path / "typo.py"
    script.write_text(textwrap.dedent(SCRIPT), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        input=b'{"cniVersion": "1.0.0", "name": "n", "type": "typo"}',
        env={"CNI_COMMAND": command, "PYTHONPATH": str(ROOT), **ATTACH_ENV},
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert (done.returncode, json.loads(done.stdout)) == expected
    assert b"Traceback" not in done.stderr


def test_in_process_runner_reports_the_same() -> None:
    runner = PluginRunner()
    version, added = runner.version(MISSPELLED), runner.add(MISSPELLED, cni_version="1.0.0")
    assert (version.exit_code, version.json) == (0, {"cniVersion": "1.1.0", "supportedVersions": ["0.4.0", "1.0.0"]})
    assert (added.exit_code, added.json) == (1, {"cniVersion": "1.0.0", "code": 999, "msg": MESSAGE.format("ADD")})
