"""The CNI commands and what the protocol asks of each: one row per command, read by every part of the SDK.

The dispatcher, the environment check, delegation (``rscni_py.invoke``), the in-process runner, the conformance kit
and the local runtime all take their facts from :data:`COMMAND_SPECS`: which ``CNI_*`` variables a command
requires, from which spec version it exists, what a successful call prints and which ``CNIPlugin`` method serves
it. Adding a verb means one row here and its handler. docs/protocol.md (sections 1, 4 and 7) shows the same table.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final, Literal, NamedTuple

__all__ = ["COMMAND_SPECS", "Command", "CommandSpec", "spec_of"]


class Command(str, enum.Enum):
    """A ``CNI_COMMAND`` value the spec defines; each member is equal to its string (``Command.ADD == "ADD"``)."""

    ADD = "ADD"
    DEL = "DEL"
    CHECK = "CHECK"
    GC = "GC"
    STATUS = "STATUS"
    VERSION = "VERSION"

    # Printed and formatted as the bare name, like the string it equals (enum.StrEnum needs Python 3.11).
    def __str__(self) -> str:
        return self.value

    def __format__(self, format_spec: str) -> str:
        return format(self.value, format_spec)


class CommandSpec(NamedTuple):
    """One command's row of the protocol table."""

    command: Command
    #: The ``CNI_*`` variables that must be set and not empty (``CNI_COMMAND`` itself is always required).
    required_env: frozenset[str]
    #: The oldest configuration ``cniVersion`` the command exists in; None: every version.
    min_version: str | None
    #: What a successful call writes to stdout: the result, the version object, or nothing.
    prints: Literal["result", "version", "nothing"]
    #: The ``CNIPlugin`` method that serves it.
    method: str
    #: Whether a ``CNI_NETNS`` naming the plugin's own namespace is refused (docs/decisions.md, D-4).
    netns_guard: bool

    @property
    def attachment(self) -> bool:
        """Whether the command concerns one attachment (a container ID and an interface name)."""
        return "CNI_CONTAINERID" in self.required_env


_ATTACHMENT: Final = frozenset({"CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"})
# CNI_PATH is required like Go requires it, although the spec calls it optional (docs/decisions.md, D-3).
_NETWORK: Final = frozenset({"CNI_PATH"})

#: The table, one row per command, in the spec's order.
COMMAND_SPECS: Final[Mapping[Command, CommandSpec]] = {
    spec.command: spec
    for spec in (
        CommandSpec(Command.ADD, _ATTACHMENT | {"CNI_NETNS"}, None, "result", "add", netns_guard=True),
        CommandSpec(Command.DEL, _ATTACHMENT, None, "nothing", "delete", netns_guard=True),
        CommandSpec(Command.CHECK, _ATTACHMENT | {"CNI_NETNS"}, "0.4.0", "nothing", "check", netns_guard=False),
        CommandSpec(Command.GC, _NETWORK, "1.1.0", "nothing", "gc", netns_guard=False),
        CommandSpec(Command.STATUS, _NETWORK, "1.1.0", "nothing", "status", netns_guard=False),
        CommandSpec(Command.VERSION, frozenset(), None, "version", "version", netns_guard=False),
    )
}

_BY_NAME: Final[dict[str, CommandSpec]] = {command.value: spec for command, spec in COMMAND_SPECS.items()}


def spec_of(name: str) -> CommandSpec | None:
    """The row of the command named ``name`` (case-sensitive, as runtimes send it), or None for an unknown one."""
    return _BY_NAME.get(name)
