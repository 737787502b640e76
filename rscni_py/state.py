"""Per-attachment state for CNI plugins: a file store, its lock, a GC diff and DEL helpers.

A plugin that allocates something on ADD (an address, a device, a port) has to find it again on DEL and on GC,
when the runtime may send nothing but the container ID and interface name.  host-local solves this with one file
per allocation under ``/var/lib/cni/networks/<name>`` and a lock file in the same directory.  This module gives
every plugin the same thing:

* ``AttachmentStore`` keeps one JSON document per attachment, keyed by (network name, container ID, ifname), with
  atomic writes and an exclusive lock (``fcntl.flock``) over one network's store for read-modify-write sequences.
* ``stale_attachments`` and ``remove_stale_attachments`` turn the GC command (SPEC.md "GC": the runtime passes
  ``cni.dev/valid-attachments``) into a diff: everything stored that is not in the valid list gets cleaned up,
  one by one, continuing past failures and collecting them.
* ``with_delegation`` and ``release_delegations`` let GC release what a delegate (IPAM) holds for a stale
  attachment itself, with that attachment's own container ID, ifname and recorded configuration: an IPAM plugin
  without GC of its own (host-local) would otherwise keep the addresses for ever.  Record the delegation *before*
  running the delegate's ADD, so that an ADD killed part-way leaves a record that DEL and GC find.
* ``is_already_gone`` and ``tolerate_missing`` make DEL idempotent (SPEC.md "DEL": "Plugins should generally
  complete a DEL action without error even if some resources are missing").

Errors::

    StateError                 base of everything this module raises on purpose
    ├── InvalidKeyError        a network name, container ID or ifname is not valid (CNI code 4, or 7 for the name)
    ├── InvalidDocumentError   the document to store is not a JSON object
    ├── UnsafePathError        a stored path resolves outside the store directory, or is a symlink
    ├── CorruptStateError      a stored file is not a document this module wrote
    ├── LockTimeoutError       the lock was not acquired within the timeout (CNI code 11, try again later)
    └── GCError                some stale attachments could not be cleaned up (``GCReport.raise_for_errors``)

Every ``StateError`` has ``msg`` and ``details`` strings and a ``cni_code`` integer, so the dispatcher can turn it
into the spec's error object without knowing the subclasses.
"""

from __future__ import annotations

import builtins
import errno
import fcntl
import json
import logging
import math
import os
import re
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol

from rscni_py._base import strict_json
from rscni_py.errors import CNIError, ErrorCode
from rscni_py.paths import ensure_trusted_dir
from rscni_py.protocol.env import MAX_IFNAME_BYTES as _MAX_IFNAME_BYTES
from rscni_py.protocol.env import validate_container_id, validate_ifname, validate_network_name

if TYPE_CHECKING:
    from rscni_py.invoke import Executor

__all__ = [
    "ALREADY_GONE_ERRNOS",
    "AttachmentKey",
    "AttachmentLike",
    "AttachmentStore",
    "CorruptStateError",
    "DEFAULT_STATE_ROOT",
    "DELEGATIONS_KEY",
    "GCError",
    "GCFailure",
    "GCReport",
    "InvalidDocumentError",
    "InvalidKeyError",
    "LockTimeoutError",
    "MAX_CONTAINER_ID_BYTES",
    "StateError",
    "UnsafePathError",
    "is_already_gone",
    "release_delegations",
    "remove_stale_attachments",
    "stale_attachments",
    "tolerate_missing",
    "with_delegation",
]

logger = logging.getLogger(__name__)

#: Where stores live unless the plugin says otherwise; each network gets ``<root>/<network name>``.
DEFAULT_STATE_ROOT: Final = Path("/var/lib/cni/rscni-py")

_CODE_INVALID_ENV: Final = ErrorCode.INVALID_ENVIRONMENT_VARIABLES
_CODE_INVALID_CONFIG: Final = ErrorCode.INVALID_NETWORK_CONFIG
_CODE_TRY_AGAIN_LATER: Final = ErrorCode.TRY_AGAIN_LATER
_CODE_INTERNAL: Final = ErrorCode.INTERNAL
# What an empty key is reported as, by field (the SDK's validators never see an empty value).
_MISSING_CODES: Final = {
    "network name": _CODE_INVALID_CONFIG,
    "containerID": _CODE_INVALID_ENV,
    "ifname": _CODE_INVALID_ENV,
}

# Linux NAME_MAX: the longest file name one directory entry can hold, in bytes.
_NAME_MAX: Final = 255
_SEPARATOR: Final = ":"
_SUFFIX: Final = ".json"
_LOCK_NAME: Final = ".lock"
_TEMP_PREFIX: Final = ".tmp-"
# Worst case for the escaped ifname: every one of its 15 bytes becomes "%XX".
_MAX_ESCAPED_IFNAME: Final = 3 * _MAX_IFNAME_BYTES
#: The longest container ID the store accepts: whatever still fits in one file name with the worst-case ifname.
MAX_CONTAINER_ID_BYTES: Final = _NAME_MAX - len(_SEPARATOR) - _MAX_ESCAPED_IFNAME - len(_SUFFIX)

_FORMAT_VERSION: Final = 1

# Bytes of an ifname that appear as themselves in a file name; every other byte, "%" included, is escaped.
_PLAIN_IFNAME_BYTES: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_ESCAPE_RE: Final = re.compile(r"%([0-9A-F]{2})")


# ---------------------------------------------------------------------------------------------------------------
# Errors


class StateError(CNIError):
    """Base of the errors this module raises: CNI errors, so a plugin that lets one escape reports its code."""

    #: The CNI error code of this kind of error (SPEC.md "Error"); ``code`` holds the one of this instance.
    cni_code: int = _CODE_INTERNAL

    def __init__(self, msg: str, details: str = "", code: int | None = None) -> None:
        super().__init__(type(self).cni_code if code is None else code, msg, details)


class InvalidKeyError(StateError, ValueError):
    """A network name, container ID or ifname breaks the CNI naming rules, so it cannot be a store key.

    ``field`` is ``"network name"``, ``"containerID"`` or ``"ifname"``; ``value`` is what was given.  The messages
    are the Go library's, so a plugin reports the same error a Go plugin would.
    """

    field: str
    value: str

    def __init__(self, field: str, value: str, msg: str, details: str, cni_code: int) -> None:
        super().__init__(msg, details, cni_code)
        self.field = field
        self.value = value
        self.cni_code = cni_code


class InvalidDocumentError(StateError, ValueError):
    """The document given to ``put`` is not a JSON object (non-string keys, NaN, sets, objects, ...)."""


class UnsafePathError(StateError):
    """A store path resolves outside its directory or is a symlink; someone other than this module wrote there."""


class CorruptStateError(StateError):
    """A stored file is not a document written by this module (truncated, edited, or for another key)."""


class LockTimeoutError(StateError):
    """The store's lock was held by someone else for longer than the timeout; the runtime should retry."""

    cni_code = _CODE_TRY_AGAIN_LATER
    path: Path
    timeout: float

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__(
            "timed out waiting for the state lock",
            f"{path} still locked by another invocation after {timeout:g} s",
        )
        self.path = path
        self.timeout = timeout


# ---------------------------------------------------------------------------------------------------------------
# Keys


@dataclass(frozen=True, order=True)
class AttachmentKey:
    """One attachment, as the spec identifies it: a container ID and an interface name (GC's valid-attachments)."""

    container_id: str
    ifname: str


class AttachmentLike(Protocol):
    """Anything with ``container_id`` and ``ifname``, e.g. the entries of a parsed ``cni.dev/valid-attachments``."""

    @property
    def container_id(self) -> str: ...

    @property
    def ifname(self) -> str: ...


def _checked(field: str, value: str, validate: Callable[[str], None]) -> None:
    """Run one of the SDK's CNI validators and report its error as an ``InvalidKeyError`` with the same code."""
    if not value:
        missing = {"network name": "missing network name", "containerID": "missing containerID"}
        raise InvalidKeyError(field, value, missing.get(field, "interface name is empty"), "", _MISSING_CODES[field])
    try:
        validate(value)
    except CNIError as err:
        raise InvalidKeyError(field, value, err.msg, err.details, err.code) from None


def _check_network_name(name: str) -> None:
    _checked("network name", name, validate_network_name)
    if len(name) > _NAME_MAX:
        raise InvalidKeyError(
            "network name",
            name,
            "network name is too long for the state store",
            f"network name should be at most {_NAME_MAX} characters",
            _CODE_INVALID_CONFIG,
        )


def _check_container_id(container_id: str) -> None:
    _checked("containerID", container_id, validate_container_id)
    if len(container_id) > MAX_CONTAINER_ID_BYTES:
        raise InvalidKeyError(
            "containerID",
            container_id,
            "containerID is too long for the state store",
            f"containerID should be at most {MAX_CONTAINER_ID_BYTES} characters",
            _CODE_INVALID_ENV,
        )


def _ifname_bytes(ifname: str) -> bytes:
    """The bytes the kernel (and Go) see for ``ifname``, or InvalidKeyError.

    os.environ turns bytes that are not UTF-8 into lone surrogates (surrogateescape), so that is the way back.  A
    string that does not survive the round trip (e.g. "\\udcc3\\udca9", which would turn into "é") cannot have
    come from the environment; rejecting it keeps the file name encoding one-to-one.
    """
    try:
        raw = ifname.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = None
    if raw is None or raw.decode("utf-8", "surrogateescape") != ifname:
        raise InvalidKeyError(
            "ifname", ifname, "interface name is not valid UTF-8 or raw bytes", repr(ifname), _CODE_INVALID_ENV
        )
    return raw


def _check_ifname(ifname: str) -> bytes:
    # The kernel's rules first (Go's order, so the first error reported is the same), then the round trip.
    _checked("ifname", ifname, validate_ifname)
    return _ifname_bytes(ifname)


def _encode_filename(container_id: str, ifname: str) -> str:
    """The file name of an attachment's document: ``<containerID>:<escaped ifname>.json``.

    Why it cannot collide: a container ID never contains ":" or "%", so the first ":" ends it; the ifname's bytes
    outside ``[A-Za-z0-9_.-]`` (``%`` and ``:`` included) become ``%XX``, which is reversible; the suffix is fixed.
    The name never contains "/" or NUL, is never "." or "..", and never starts with "." (that prefix is kept for
    the lock and temporary files), so it is always one entry directly inside the store directory.
    """
    _check_container_id(container_id)
    raw = _check_ifname(ifname)
    escaped = "".join(chr(b) if b in _PLAIN_IFNAME_BYTES else f"%{b:02X}" for b in raw)
    return f"{container_id}{_SEPARATOR}{escaped}{_SUFFIX}"


def _decode_filename(name: str) -> AttachmentKey | None:
    """The key a file name stands for, or None for anything ``_encode_filename`` would not produce."""
    if not name.endswith(_SUFFIX):
        return None
    container_id, sep, escaped = name[: -len(_SUFFIX)].partition(_SEPARATOR)
    if not sep:
        return None
    raw = bytearray()
    pos = 0
    while pos < len(escaped):
        ch = escaped[pos]
        if ch == "%":
            match = _ESCAPE_RE.match(escaped, pos)
            if match is None:
                return None
            raw.append(int(match.group(1), 16))
            pos = match.end()
        elif ord(ch) < 128 and ord(ch) in _PLAIN_IFNAME_BYTES:
            raw.append(ord(ch))
            pos += 1
        else:
            return None
    ifname = bytes(raw).decode("utf-8", "surrogateescape")
    try:
        # Only the canonical spelling counts: "%41" for "A" is not a name this module writes.
        if _encode_filename(container_id, ifname) != name:
            return None
    except InvalidKeyError:
        return None
    return AttachmentKey(container_id, ifname)


# ---------------------------------------------------------------------------------------------------------------
# The store


def _fsync_dir(path: Path) -> None:
    # A rename or unlink is only durable once the directory entry itself has reached the disk.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_private_dir(path: Path) -> None:
    """Create ``path`` with mode 0700 if it is missing; an existing directory keeps its mode.

    Missing parents above it are created 0755 whatever the umask: they may be shared with other CNI tools, e.g.
    ``/var/lib/cni``. The whole path is reached from ``/`` through trusted directories only (SECURITY.md, section
    9): a link or directory another user could have planted on the way raises ``UntrustedPathError``.
    """
    ensure_trusted_dir(path.parent, create_mode=0o755)
    ensure_trusted_dir(path, create_mode=0o700)


class AttachmentStore:
    """The state of one CNI network: one JSON document per attachment, in ``<root>/<network>/``.

    Keys are (container ID, ifname), validated with the CNI rules, so a key can never name a file outside the
    directory.  ``put``, ``get`` and ``delete`` are atomic on their own; wrap a read-modify-write sequence (or
    anything that must see a consistent set of attachments, such as picking a free address) in ``with
    store.lock():``, which excludes every other invocation for the same network, in any process.

    :param network: the network configuration's ``name`` (``args.config.name``).
    :param root: the directory that holds one subdirectory per network.
    :raises InvalidKeyError: the network name breaks the CNI naming rules.
    """

    #: How long a wait for the lock may last before it is logged at WARNING instead of INFO.
    warn_after: ClassVar[float] = 1.0

    def __init__(self, network: str, *, root: str | os.PathLike[str] = DEFAULT_STATE_ROOT) -> None:
        _check_network_name(network)
        self.network: Final = network
        self.root: Final = Path(root)
        #: The directory that holds this network's documents and its lock file.
        self.directory: Final = self.root / network
        self._lock_path: Final = self.directory / _LOCK_NAME
        # Threads of one process are excluded by this, processes by flock; it also makes lock() re-entrant.
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._lock_fd: int | None = None

    def __repr__(self) -> str:
        return f"AttachmentStore(network={self.network!r}, root={str(self.root)!r})"

    # -- paths --------------------------------------------------------------------------------------------------

    def path(self, container_id: str, ifname: str) -> Path:
        """The file that holds an attachment's document (it may not exist).

        :raises InvalidKeyError: the container ID or ifname breaks the CNI naming rules.
        :raises UnsafePathError: the path resolves outside the store directory.
        """
        path = self.directory / _encode_filename(container_id, ifname)
        # The encoding already guarantees a single entry; this also catches a symlinked entry pointing elsewhere.
        base = os.path.realpath(self.directory)
        if os.path.dirname(os.path.realpath(path)) != base:
            raise UnsafePathError("state path resolves outside the store directory", str(path))
        return path

    # -- documents ----------------------------------------------------------------------------------------------

    def put(self, container_id: str, ifname: str, document: Mapping[str, Any]) -> None:
        """Store ``document`` (a JSON object) for the attachment, replacing any earlier one, atomically.

        The file is written to a temporary name in the same directory, flushed to disk, renamed over the old one
        and the directory is flushed, so a reader sees either the old document or the new one, never a mix, and
        a crash leaves one of the two.  Data files are mode 0600, directories 0700.

        :raises InvalidKeyError: the container ID or ifname is invalid.
        :raises InvalidDocumentError: ``document`` cannot be written as a JSON object.
        """
        path = self.path(container_id, ifname)
        payload = self._serialise(container_id, ifname, document)
        self._make_directories()
        fd, tmp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as tmp:
                # mkstemp asks for 0600 but the umask can take bits away; the owner must keep read and write.
                os.fchmod(tmp.fileno(), 0o600)
                tmp.write(payload)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            # Whatever went wrong (even KeyboardInterrupt), leave no half-written temporary file behind.
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            raise
        _fsync_dir(self.directory)

    def get(self, container_id: str, ifname: str) -> dict[str, Any] | None:
        """The attachment's document, or None when nothing is stored for it.

        :raises InvalidKeyError: the container ID or ifname is invalid.
        :raises CorruptStateError: the file is not a document this store wrote for this key.
        :raises UnsafePathError: the entry is a symlink.
        """
        path = self.path(container_id, ifname)
        try:
            # O_NONBLOCK: a FIFO planted under this name must not hang the plugin (no effect on regular files).
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePathError("state file is a symlink", str(path)) from None
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise CorruptStateError("state file is not a regular file", str(path))
        except BaseException:
            os.close(fd)
            raise
        with os.fdopen(fd, "rb") as file:
            payload = file.read()
        return self._deserialise(path, container_id, ifname, payload)

    def delete(self, container_id: str, ifname: str) -> bool:
        """Forget the attachment.  Deleting one that is not stored is a success (DEL must be idempotent).

        :returns: whether a document was removed.
        :raises InvalidKeyError: the container ID or ifname is invalid.
        """
        path = self.path(container_id, ifname)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        _fsync_dir(self.directory)
        return True

    def list(self) -> list[AttachmentKey]:
        """Every stored attachment, sorted.  Files this module did not name (and temporary files) are ignored."""
        try:
            entries = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        keys = []
        for name in entries:
            if name.startswith("."):
                continue
            key = _decode_filename(name)
            if key is None:
                logger.debug("ignoring %s in %s: not a state file name", name, self.directory)
                continue
            keys.append(key)
        keys.sort()
        return keys

    def items(self) -> Iterator[tuple[AttachmentKey, dict[str, Any]]]:
        """Each stored attachment with its document; entries deleted while iterating are skipped.

        :raises CorruptStateError: a stored file is not a document of this store.
        """
        for key in self.list():
            document = self.get(key.container_id, key.ifname)
            if document is not None:
                yield key, document

    # builtins.list: inside this class, "list" is the method above.
    def remove_leftover_temp_files(self, older_than: float = 3600.0) -> builtins.list[str]:
        """Remove temporary files that a crashed ``put`` left behind, if older than ``older_than`` seconds.

        A ``put`` that is killed between creating its temporary file and renaming it leaves a ``.tmp-*`` file.
        Younger ones may belong to a ``put`` still running (puts do not need the lock), so they are kept.
        ``remove_stale_attachments`` calls this; failures are logged, never raised.

        :returns: the names of the files removed.
        """
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return []
        cutoff = time.time() - older_than
        removed = []
        for entry in entries:
            if not entry.name.startswith(_TEMP_PREFIX):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed.append(entry.name)
            except FileNotFoundError:
                pass
            except OSError as exc:
                logger.warning("could not remove leftover temporary file %s: %s", entry.path, exc)
        if removed:
            logger.info("removed %d leftover temporary file(s) from %s", len(removed), self.directory)
        return sorted(removed)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, AttachmentKey):
            return False
        try:
            return self.path(key.container_id, key.ifname).exists()
        except InvalidKeyError:
            return False

    def _make_directories(self) -> None:
        _make_private_dir(self.root)
        _make_private_dir(self.directory)

    @staticmethod
    def _serialise(container_id: str, ifname: str, document: Mapping[str, Any]) -> bytes:
        if not isinstance(document, Mapping):
            raise InvalidDocumentError(
                "state document must be a JSON object", f"got {type(document).__name__} for {container_id}/{ifname}"
            )
        wrapped = {
            "rscniPyState": _FORMAT_VERSION,
            "containerID": container_id,
            "ifname": ifname,
            "data": dict(document),
        }
        try:
            # ASCII output: an ifname made of raw bytes (lone surrogates) still round-trips as \udcXX escapes.
            text = json.dumps(wrapped, ensure_ascii=True, allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise InvalidDocumentError(
                "state document is not JSON-serialisable", f"{container_id}/{ifname}: {exc}"
            ) from None
        return text.encode("ascii") + b"\n"

    @staticmethod
    def _deserialise(path: Path, container_id: str, ifname: str, payload: bytes) -> dict[str, Any]:
        try:
            wrapped = json.loads(payload)
        except ValueError as exc:
            raise CorruptStateError("state file is not valid JSON", f"{path}: {exc}") from None
        if (
            not isinstance(wrapped, dict)
            or wrapped.get("rscniPyState") != _FORMAT_VERSION
            or not isinstance(wrapped.get("data"), dict)
        ):
            raise CorruptStateError("state file is not an rscni-py state document", str(path))
        if wrapped.get("containerID") != container_id or wrapped.get("ifname") != ifname:
            raise CorruptStateError(
                "state file belongs to another attachment",
                f"{path} holds {wrapped.get('containerID')!r}/{wrapped.get('ifname')!r}",
            )
        data: dict[str, Any] = wrapped["data"]
        return data

    # -- locking ------------------------------------------------------------------------------------------------

    @contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the network's exclusive lock for the ``with`` block.

        The lock is ``fcntl.flock`` on ``<directory>/.lock``, so it excludes every process using a store for the
        same network and directory, and the kernel releases it if the process dies.  It is re-entrant within one
        thread of one store object.  A wait is logged at INFO with its duration (WARNING past ``warn_after``).

        :param timeout: seconds to wait; None waits for ever, 0 tries once.
        :raises LockTimeoutError: the lock is still held by someone else after ``timeout`` seconds.
        """
        if timeout is not None and (timeout < 0 or math.isnan(timeout)):
            raise ValueError(f"lock timeout must be None or >= 0, got {timeout!r}")
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        if not self._thread_lock.acquire(timeout=-1 if timeout is None else timeout):
            assert timeout is not None
            logger.warning(
                "gave up waiting for state lock %s (held by another thread) after %.3f s", self._lock_path, timeout
            )
            raise LockTimeoutError(self._lock_path, timeout)
        try:
            if self._depth == 0:
                self._lock_fd = self._acquire_flock(start, deadline, timeout)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_fd is not None:
                    # Closing the descriptor releases the flock.
                    os.close(self._lock_fd)
                    self._lock_fd = None
        finally:
            self._thread_lock.release()

    def _acquire_flock(self, start: float, deadline: float | None, timeout: float | None) -> int:
        self._make_directories()
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            os.fchmod(fd, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                pass
            logger.info("state lock %s is held by another invocation; waiting", self._lock_path)
            if deadline is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                self._poll_flock(fd, deadline, timeout)
            waited = time.monotonic() - start
            level = logging.WARNING if waited >= self.warn_after else logging.INFO
            logger.log(level, "acquired state lock %s after waiting %.3f s", self._lock_path, waited)
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _poll_flock(self, fd: int, deadline: float, timeout: float | None) -> None:
        # flock has no timeout of its own; poll with a growing, capped sleep instead of using SIGALRM, which
        # would fight with the plugin's own signal handling.
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                assert timeout is not None
                logger.warning("gave up waiting for state lock %s after %.3f s", self._lock_path, timeout)
                raise LockTimeoutError(self._lock_path, timeout)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)


# ---------------------------------------------------------------------------------------------------------------
# GC


def _key_of(item: AttachmentLike | tuple[str, str]) -> AttachmentKey:
    if isinstance(item, tuple):
        container_id, ifname = item
        return AttachmentKey(container_id, ifname)
    return AttachmentKey(item.container_id, item.ifname)


def stale_attachments(
    store: AttachmentStore, valid: Iterable[AttachmentLike | tuple[str, str]] | None
) -> list[AttachmentKey]:
    """The stored attachments that are not in ``valid``: what a GC command should clean up.

    ``valid`` is the GC command's ``cni.dev/valid-attachments``, as ``(containerID, ifname)`` pairs or objects
    with ``container_id`` and ``ifname``.  Entries that are not valid keys simply match nothing.  None (the key
    absent, or ``null``) means that no attachment is valid: libcni sends a Go nil slice as ``null`` and leaves the
    key out when it has no GC arguments, and treats both as "nothing is valid" itself.
    """
    keep = {_key_of(item) for item in valid or ()}
    return [key for key in store.list() if key not in keep]


@dataclass(frozen=True)
class GCFailure:
    """One stale attachment that could not be cleaned up, and why."""

    key: AttachmentKey
    error: Exception


class GCError(StateError):
    """Some stale attachments could not be cleaned up; ``failures`` lists each one with its exception."""

    failures: tuple[GCFailure, ...]

    def __init__(self, failures: Collection[GCFailure]) -> None:
        parts = [f"{f.key.container_id}/{f.key.ifname}: {f.error}" for f in failures]
        super().__init__(f"garbage collection failed for {len(parts)} attachment(s)", "; ".join(parts))
        self.failures = tuple(failures)


@dataclass
class GCReport:
    """What ``remove_stale_attachments`` did: the attachments removed and the ones that failed."""

    removed: list[AttachmentKey] = field(default_factory=list)
    failed: list[GCFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every stale attachment was cleaned up."""
        return not self.failed

    def raise_for_errors(self) -> None:
        """Raise ``GCError`` listing every failure, if there was any (GC reports errors after trying all)."""
        if self.failed:
            raise GCError(self.failed)


def remove_stale_attachments(
    store: AttachmentStore,
    valid: Iterable[AttachmentLike | tuple[str, str]] | None,
    cleanup: Callable[[AttachmentKey, dict[str, Any] | None], None] | None = None,
    *,
    lock_timeout: float | None = None,
) -> GCReport:
    """Clean up every stored attachment that is not in ``valid``, one by one, under the store's lock.

    ``valid`` is as for ``stale_attachments`` (None means that no attachment is valid).

    For each stale attachment, ``cleanup(key, document)`` releases what the plugin holds for it (``document`` is
    None if the file vanished or could not be read), then the document is deleted.  An exception from either
    step is recorded and the next attachment is tried, as the spec asks of GC; its document stays, so the next
    GC tries again.  Call ``raise_for_errors()`` on the report to turn failures into one error.  Temporary files
    left by crashed writes (older than an hour) are removed too.

    :raises LockTimeoutError: the lock could not be taken within ``lock_timeout`` seconds.
    """
    report = GCReport()
    with store.lock(timeout=lock_timeout):
        store.remove_leftover_temp_files()
        for key in stale_attachments(store, valid):
            try:
                if cleanup is not None:
                    try:
                        document = store.get(key.container_id, key.ifname)
                    except CorruptStateError as exc:
                        # Clean up what can be cleaned up; the plugin decides what a missing document means.
                        logger.warning("GC of %s/%s: %s", key.container_id, key.ifname, exc)
                        document = None
                    cleanup(key, document)
                store.delete(key.container_id, key.ifname)
            except Exception as exc:
                logger.warning("GC of %s/%s failed: %s", key.container_id, key.ifname, exc)
                report.failed.append(GCFailure(key, exc))
            else:
                report.removed.append(key)
    return report


#: The key of a record's document under which ``with_delegation`` keeps the delegations to undo.
DELEGATIONS_KEY: Final = "rscniPyDelegations"


def with_delegation(
    document: Mapping[str, Any], plugin_type: str, netconf: bytes | Mapping[str, Any]
) -> dict[str, Any]:
    """``document`` plus the note that delegate ``plugin_type`` is run with ADD and ``netconf`` for the attachment.

    Store the result *before* delegating ADD: whatever happens next (the plugin killed, the interface half built),
    ``release_delegations`` can then undo the delegation for GC, with the configuration the ADD used.

    :raises InvalidDocumentError: ``netconf`` is not a JSON object.
    """
    if isinstance(netconf, bytes):
        try:
            config = strict_json.loads(netconf)
        except (ValueError, RecursionError) as exc:
            raise InvalidDocumentError("delegated configuration is not JSON", str(exc)) from None
    else:
        config = dict(netconf)
    if not isinstance(config, dict):
        raise InvalidDocumentError("delegated configuration must be a JSON object", type(config).__name__)
    recorded = [d for d in document.get(DELEGATIONS_KEY, []) if d.get("type") != plugin_type]
    return {**document, DELEGATIONS_KEY: [*recorded, {"type": plugin_type, "config": config}]}


def release_delegations(
    key: AttachmentKey,
    document: Mapping[str, Any] | None,
    env: Mapping[str, str] | None = None,
    *,
    executor: Executor | None = None,
) -> None:
    """GC's step for one stale attachment: run DEL of each delegate ``with_delegation`` recorded, last first.

    Each DEL gets the recorded configuration and the attachment's own ``CNI_CONTAINERID`` and ``CNI_IFNAME``;
    the rest (``CNI_PATH`` above all) comes from ``env``, by default the environment delegation starts from (the
    GC command's); ``CNI_NETNS`` is empty, the namespace may be gone.  So the delegate releases exactly what it
    holds for that attachment.  A document without delegations (or None) releases nothing.  A failing DEL raises;
    ``remove_stale_attachments`` then keeps the record for the next GC.  Each DEL has the delegates' default
    timeout (``rscni_py.invoke.DEFAULT_TIMEOUT``).

    :param executor: the process layer (default: a ``DefaultExecutor``; tests pass a ``FakeExecutor``).
    """
    from rscni_py import invoke  # same layer; loaded only by the plugins that release delegations
    from rscni_py.protocol.dispatch import call_env

    base = env if env is not None else (call_env() or os.environ)
    attachment_env = {**base, "CNI_CONTAINERID": key.container_id, "CNI_IFNAME": key.ifname, "CNI_NETNS": ""}
    for delegation in reversed((document or {}).get(DELEGATIONS_KEY, [])):
        invoke.delegate_delete(delegation["type"], delegation["config"], env=attachment_env, executor=executor)


# ---------------------------------------------------------------------------------------------------------------
# DEL helpers

#: errno values that mean "the thing to remove is already gone":
#: ENOENT (file, netns path), ESRCH (process; netlink's answer for a missing route), ENODEV (netlink's answer for a
#: missing link), EADDRNOTAVAIL (netlink's answer when deleting an address that is not there).
ALREADY_GONE_ERRNOS: Final = frozenset({errno.ENOENT, errno.ESRCH, errno.ENODEV, errno.EADDRNOTAVAIL})


def _netlink_error_code(exc: BaseException) -> int | None:
    # pyroute2's NetlinkError is not an OSError but carries the errno in .code.  Only look for it when pyroute2
    # is already loaded: a plugin that does not use it never pays for the import.
    module = sys.modules.get("pyroute2.netlink.exceptions")
    netlink_error = getattr(module, "NetlinkError", None) if module is not None else None
    if isinstance(netlink_error, type) and isinstance(exc, netlink_error):
        code = getattr(exc, "code", None)
        return code if isinstance(code, int) else None
    return None


def is_already_gone(exc: BaseException, errnos: Collection[int] = ALREADY_GONE_ERRNOS) -> bool:
    """Whether ``exc`` says the resource being removed no longer exists, which DEL must treat as success.

    True for an ``OSError`` (``FileNotFoundError``, ``ProcessLookupError``, ...) or a pyroute2 ``NetlinkError``
    whose errno is in ``errnos``.
    """
    if isinstance(exc, OSError):
        return exc.errno in errnos
    code = _netlink_error_code(exc)
    return code is not None and code in errnos


class tolerate_missing:
    """Swallow "already gone" errors in a ``with`` block, for DEL (SPEC.md "DEL": missing resources are not errors).

    ::

        with tolerate_missing("veth " + host_ifname):
            ipr.link("del", ifname=host_ifname)

    Any other exception passes through.  The swallowed exception is logged at DEBUG and kept in ``error``.

    :param what: names the resource in the log message.
    :param errnos: the errno values that count as "already gone".
    """

    error: BaseException | None

    def __init__(self, what: str = "resource", *, errnos: Collection[int] = ALREADY_GONE_ERRNOS) -> None:
        self.what = what
        self.errnos = frozenset(errnos)
        self.error = None

    def __enter__(self) -> tolerate_missing:
        self.error = None
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None or not is_already_gone(exc, self.errnos):
            return False
        self.error = exc
        logger.debug("%s already gone: %s", self.what, exc)
        return True

    @property
    def suppressed(self) -> bool:
        """True when the block ended with an "already gone" error that was swallowed."""
        return self.error is not None
