"""The CNI_* environment variables: which command needs which, and how each is validated (SPEC.md §2, Go skel).

The rules are data (``ENV_VARS``, with the commands that require each variable taken from
``rscni_py.protocol.commands``), read in order.  An empty variable counts as missing, never as invalid.  A
validation failure is reported at once; missing variables are collected and reported together in one error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, NamedTuple

from rscni_py.errors import InvalidEnvironmentVariablesError, InvalidNetworkConfigError
from rscni_py.protocol.commands import COMMAND_SPECS

__all__ = [
    "GO_SPACES",
    "MAX_IFNAME_BYTES",
    "ENV_VARS",
    "EnvVar",
    "read_env",
    "split_path",
    "validate_container_id",
    "validate_ifname",
    "validate_network_name",
]

# Container IDs and network names become file names in runtimes and plugins, so only a safe ASCII set is allowed:
# [a-zA-Z0-9][a-zA-Z0-9_.-]*. Sets rather than a regex, which every plugin start would compile.
_ALNUM: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_SAFE_CHARS: Final = _ALNUM | frozenset("_.-")


def _safe_name(value: str) -> bool:
    return value[:1] in _ALNUM and _SAFE_CHARS.issuperset(value)


#: Linux IFNAMSIZ is 16 bytes including the terminating NUL.
MAX_IFNAME_BYTES: Final = 15
#: Go's ``unicode.IsSpace`` set, which the interface-name rule uses (``str.isspace`` also accepts U+001C..U+001F).
GO_SPACES: Final = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def validate_container_id(value: str) -> None:
    """Reject container IDs outside ``[a-zA-Z0-9][a-zA-Z0-9_.-]*`` (code 4, details = the ID)."""
    if not _safe_name(value):
        raise InvalidEnvironmentVariablesError("invalid characters in containerID", value)


def validate_network_name(value: str) -> None:
    """Reject network names outside ``[a-zA-Z0-9][a-zA-Z0-9_.-]*`` (code 7, details = the name)."""
    if not _safe_name(value):
        raise InvalidNetworkConfigError("invalid characters found in network name", value)


def validate_ifname(value: str) -> None:
    """Apply the kernel's rules for interface names (Go's ``ValidateInterfaceName``), in Go's order (code 4).

    The details name the offending value, except for the length rule, whose details say the limit.
    """
    if value == "":
        raise InvalidEnvironmentVariablesError("interface name is empty")
    if _byte_length(value) > MAX_IFNAME_BYTES:
        raise InvalidEnvironmentVariablesError(
            "interface name is too long", f"interface name should be less than {MAX_IFNAME_BYTES + 1} characters"
        )
    if value in (".", ".."):
        raise InvalidEnvironmentVariablesError("interface name is . or ..", value)
    if any(ch in "/:" or ch in GO_SPACES for ch in value):
        raise InvalidEnvironmentVariablesError("interface name contains / or : or whitespace characters", value)


def _byte_length(value: str) -> int:
    """Length in bytes as the kernel sees it; os.environ keeps non-UTF-8 bytes as lone surrogates."""
    try:
        return len(value.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # a surrogate that no environment can produce; count it as the 3 bytes it takes
        return len(value.encode("utf-8", "surrogatepass"))


class EnvVar(NamedTuple):
    """One CNI_* variable: the commands that require it and the check its value must pass."""

    name: str
    required_for: frozenset[str]
    validate: Callable[[str], None] | None = None


def _required_by(name: str) -> frozenset[str]:
    return frozenset(command.value for command, spec in COMMAND_SPECS.items() if name in spec.required_env)


#: The table, in the order the variables are checked and reported.
ENV_VARS: Final[tuple[EnvVar, ...]] = (
    EnvVar("CNI_COMMAND", frozenset(command.value for command in COMMAND_SPECS)),
    EnvVar("CNI_CONTAINERID", _required_by("CNI_CONTAINERID"), validate_container_id),
    EnvVar("CNI_NETNS", _required_by("CNI_NETNS")),
    EnvVar("CNI_IFNAME", _required_by("CNI_IFNAME"), validate_ifname),
    EnvVar("CNI_ARGS", _required_by("CNI_ARGS")),
    EnvVar("CNI_PATH", _required_by("CNI_PATH")),
)


def read_env(env: Mapping[str, str], command: str) -> dict[str, str]:
    """Check the variables ``command`` needs and return every CNI_* value ("" when unset).

    Raises the first validation error, else one error listing every missing variable.  An unknown command needs
    only CNI_COMMAND; it is rejected later, once the configuration has been read (as Go does).
    """
    values: dict[str, str] = {}
    missing: list[str] = []
    for var in ENV_VARS:
        value = env.get(var.name, "")
        values[var.name] = value
        required = var.name == "CNI_COMMAND" or command in var.required_for
        if not required:
            continue
        if value == "":
            missing.append(var.name)
        elif var.validate is not None:
            var.validate(value)
    if missing:
        raise InvalidEnvironmentVariablesError(f"required env variables [{','.join(missing)}] missing")
    values["CNI_NETNS_OVERRIDE"] = env.get("CNI_NETNS_OVERRIDE", "")
    return values


def split_path(value: str) -> list[str]:
    """Split CNI_PATH like Go's ``filepath.SplitList``: "" gives [], empty elements are kept."""
    return value.split(":") if value else []
