"""CNI error codes and the exception hierarchy that ``run()`` turns into the spec's error JSON.

The spec (SPEC.md, "Error") defines an error object ``{cniVersion, code, msg, details}`` printed on stdout with a
non-zero exit.  Codes 0-99 are reserved for well-known errors; plugins use 100 and up for their own.

Hierarchy::

    CNIError(code, msg, details)             any code; plugin-specific codes (>= 100) use it directly
    ├── IncompatibleCNIVersionError          1
    ├── UnsupportedFieldError                2
    ├── UnknownContainerError                3
    ├── InvalidEnvironmentVariablesError     4
    ├── IOFailureError                       5
    ├── DecodingFailureError                 6
    ├── InvalidNetworkConfigError            7
    ├── InvalidNetNSError                    8   (Go library convention, not in the spec)
    ├── TryAgainLaterError                   11
    ├── PluginNotAvailableError              50  (STATUS)
    ├── LimitedConnectivityError             51  (STATUS)
    └── InternalError                        999 (library convention for unexpected exceptions)

Raise any of these from a plugin method and ``run()`` prints it unchanged.  Any other exception becomes
``InternalError`` with ``msg = str(exc)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any, ClassVar

__all__ = [
    "CNIError",
    "DecodingFailureError",
    "ErrorCode",
    "IOFailureError",
    "IncompatibleCNIVersionError",
    "InternalError",
    "InvalidEnvironmentVariablesError",
    "InvalidNetNSError",
    "InvalidNetworkConfigError",
    "LimitedConnectivityError",
    "PluginNotAvailableError",
    "TryAgainLaterError",
    "UnknownContainerError",
    "UnsupportedFieldError",
]


class ErrorCode(IntEnum):
    """Well-known CNI error codes (SPEC.md "Error" table, plus Go's 0, 8 and 999)."""

    #: Not in the spec; Go's code for failures it could not classify (e.g. a delegate that printed nothing).
    UNKNOWN = 0
    #: The configuration's cniVersion is not one the plugin supports, or the command needs a newer one.
    INCOMPATIBLE_CNI_VERSION = 1
    #: A field of the network configuration is not supported; the message names key and value.
    UNSUPPORTED_FIELD = 2
    #: The container is unknown or does not exist.
    UNKNOWN_CONTAINER = 3
    #: A required CNI_* environment variable is missing or invalid; the message names it.
    INVALID_ENVIRONMENT_VARIABLES = 4
    #: An I/O failure, e.g. reading stdin.
    IO_FAILURE = 5
    #: Content could not be decoded (stdin is not JSON).
    DECODING_FAILURE = 6
    #: The network configuration is invalid.
    INVALID_NETWORK_CONFIG = 7
    #: Go library convention: CNI_NETNS is the plugin's own network namespace.
    INVALID_NETNS = 8
    #: A transient condition; the runtime should retry later.
    TRY_AGAIN_LATER = 11
    #: STATUS: the plugin cannot service ADD requests.
    PLUGIN_NOT_AVAILABLE = 50
    #: STATUS: existing containers may have limited connectivity.
    LIMITED_CONNECTIVITY = 51
    #: Library convention: an unexpected exception inside the plugin.
    INTERNAL = 999


class CNIError(Exception):
    """A CNI error result: a code, a message and optional details.

    Use it directly for plugin-specific codes (100 and up); use the subclasses for well-known codes.
    """

    code: int
    msg: str
    details: str

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = int(code)
        self.msg = msg
        self.details = details

    def __str__(self) -> str:
        return f"{self.msg}; {self.details}" if self.details else self.msg

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, msg={self.msg!r}, details={self.details!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CNIError):
            return NotImplemented
        return (self.code, self.msg, self.details) == (other.code, other.msg, other.details)

    def __hash__(self) -> int:
        return hash((self.code, self.msg, self.details))

    def to_dict(self, cni_version: str | None = None) -> dict[str, Any]:
        """The spec's error object; ``details`` is left out when empty (as Go does)."""
        out: dict[str, Any] = {}
        if cni_version:
            out["cniVersion"] = cni_version
        out["code"] = self.code
        out["msg"] = self.msg
        if self.details:
            out["details"] = self.details
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CNIError:
        """Rebuild an error from a plugin's error JSON, keeping its code (used when delegating).

        Raises ``ValueError`` when ``data`` is not an error object.
        """
        code, msg, details = data.get("code"), data.get("msg", ""), data.get("details", "")
        if isinstance(code, bool) or not isinstance(code, int) or code < 0:
            raise ValueError(f"error object has no valid code: {code!r}")
        if not isinstance(msg, str) or not isinstance(details, str):
            raise ValueError("error object's msg and details must be strings")
        well_known = _BY_CODE.get(code)
        if well_known is not None:
            return well_known(msg, details)
        return CNIError(code, msg, details)


class _WellKnownError(CNIError):
    """Base of the errors whose code the spec fixes; the code is a class attribute."""

    error_code: ClassVar[ErrorCode]

    def __init__(self, msg: str, details: str = "") -> None:
        super().__init__(self.error_code, msg, details)


class IncompatibleCNIVersionError(_WellKnownError):
    """Code 1: the configuration's cniVersion is not supported, or too old for the command."""

    error_code = ErrorCode.INCOMPATIBLE_CNI_VERSION


class UnsupportedFieldError(_WellKnownError):
    """Code 2: an unsupported network configuration field; the message must name key and value."""

    error_code = ErrorCode.UNSUPPORTED_FIELD


class UnknownContainerError(_WellKnownError):
    """Code 3: the container is unknown or does not exist."""

    error_code = ErrorCode.UNKNOWN_CONTAINER


class InvalidEnvironmentVariablesError(_WellKnownError):
    """Code 4: a CNI_* variable is missing or invalid; the message names it."""

    error_code = ErrorCode.INVALID_ENVIRONMENT_VARIABLES


class IOFailureError(_WellKnownError):
    """Code 5: an I/O failure."""

    error_code = ErrorCode.IO_FAILURE


class DecodingFailureError(_WellKnownError):
    """Code 6: content could not be decoded."""

    error_code = ErrorCode.DECODING_FAILURE


class InvalidNetworkConfigError(_WellKnownError):
    """Code 7: the network configuration is invalid; the message names the field."""

    error_code = ErrorCode.INVALID_NETWORK_CONFIG


class InvalidNetNSError(_WellKnownError):
    """Code 8: CNI_NETNS is unusable (e.g. it is the plugin's own namespace)."""

    error_code = ErrorCode.INVALID_NETNS


class TryAgainLaterError(_WellKnownError):
    """Code 11: a transient condition; the runtime should retry."""

    error_code = ErrorCode.TRY_AGAIN_LATER


class PluginNotAvailableError(_WellKnownError):
    """Code 50 (STATUS): the plugin cannot service ADD requests."""

    error_code = ErrorCode.PLUGIN_NOT_AVAILABLE


class LimitedConnectivityError(_WellKnownError):
    """Code 51 (STATUS): existing containers may have limited connectivity."""

    error_code = ErrorCode.LIMITED_CONNECTIVITY


class InternalError(_WellKnownError):
    """Code 999: an unexpected failure inside the plugin."""

    error_code = ErrorCode.INTERNAL


_BY_CODE: dict[int, type[_WellKnownError]] = {cls.error_code: cls for cls in _WellKnownError.__subclasses__()}
