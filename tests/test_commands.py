"""The command vocabulary: one row per CNI command, which the rest of the SDK reads."""

from __future__ import annotations

import json

from rscni_py import CNIPlugin
from rscni_py.protocol.commands import COMMAND_SPECS, Command, spec_of


def test_the_table() -> None:
    rows = {
        command.value: (sorted(spec.required_env), spec.min_version, spec.prints, spec.method, spec.netns_guard)
        for command, spec in COMMAND_SPECS.items()
    }
    attachment = ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"]
    assert rows == {
        "ADD": (sorted([*attachment, "CNI_NETNS"]), None, "result", "add", True),
        "DEL": (attachment, None, "nothing", "delete", True),
        "CHECK": (sorted([*attachment, "CNI_NETNS"]), "0.4.0", "nothing", "check", False),
        "GC": (["CNI_PATH"], "1.1.0", "nothing", "gc", False),
        "STATUS": (["CNI_PATH"], "1.1.0", "nothing", "status", False),
        "VERSION": ([], None, "version", "version", False),
    }
    assert [c.value for c, spec in COMMAND_SPECS.items() if spec.attachment] == ["ADD", "DEL", "CHECK"]


def test_every_command_has_one_row_and_a_plugin_method() -> None:
    assert list(COMMAND_SPECS) == list(Command)
    assert [spec.command for spec in COMMAND_SPECS.values()] == list(Command)
    assert [spec.method for spec in COMMAND_SPECS.values() if not callable(getattr(CNIPlugin, spec.method, None))] == []


def test_lookup_is_by_exact_name() -> None:
    assert [spec_of(name) for name in ("STATUS", "status", "", "ADD ", "NOPE")] == [
        COMMAND_SPECS[Command.STATUS],
        None,
        None,
        None,
        None,
    ]


def test_a_command_reads_as_its_name() -> None:
    assert (
        str(Command.STATUS),
        f"{Command.GC} at 1.0.0",
        f"{Command.ADD:>5}",
        "%s" % Command.DEL,  # noqa: UP031 - the %-formatting that logging uses
        json.dumps({"c": Command.CHECK}),
        Command.DEL == "DEL",
        Command("VERSION"),
    ) == ("STATUS", "GC at 1.0.0", "  ADD", "DEL", '{"c": "CHECK"}', True, Command.VERSION)
