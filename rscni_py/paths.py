"""Paths a plugin writes to, reached without following anything another user could plant (SECURITY.md, section 9).

The SDK uses this for its state store, log files and ``rscni-py install``; a plugin uses it for any directory or
file named in its configuration (the debug plugin's ``cniOutput``). It sits in the lowest layer with ``_base``, so
that every user can import it, and uses the standard library only.

A plugin runs as root, and the paths it writes to (the state store, ``logFile``, ``rscni-py install``'s
directories, the debug plugin's ``cniOutput``) come from configuration. If a directory on such a path can be changed
by another user, that user can plant a symbolic link there and make root write wherever they like. The rule, as
ssh applies it to its keys (SECURITY.md, section 9):

* **trusted directory**: owned by root or by the effective user, and not writable by group or others unless it has
  the sticky bit (``/tmp``): there others cannot rename or remove entries they do not own, and every entry the
  walk passes through must itself be owned by root or us.
* The path is walked from ``/`` one component at a time, each opened relative to the directory before it with
  ``O_NOFOLLOW`` (``openat``), and every directory on it, the last one included, must be trusted.
* A symbolic link on the path is followed only if root or the effective user owns it (others' links are refused
  even in a sticky directory), at most 40 of them, and its target is walked by the same rules.
* A missing directory is created with the mode asked for, set again with ``fchmod`` since the umask filters
  ``mkdir``; a directory someone else created first is refused by the owner rule.
* A file opened for writing in place (a log file) must be a regular file, owned by root or us, with one link.

Because every directory on a trusted path can only be changed by root or us, later path-based calls (``rename``,
``mkstemp``) on it stay where the check found them.

A path is also refused before any of that when it cannot name a file at all: a NUL character, a lone surrogate,
more than ``PATH_MAX`` bytes or a component of more than ``NAME_MAX`` bytes (``PathTextError``,
a ``ValueError``; callers report it as a configuration error naming the key). ``UntrustedPathError`` is a
``PermissionError``, so callers that already turn ``OSError`` into an I/O error keep doing so.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from typing import Final

__all__ = [
    "PathTextError",
    "UntrustedPathError",
    "check_path_text",
    "ensure_trusted_dir",
    "open_trusted_dir",
    "open_trusted_file",
]

# Linux's limits: a whole path (with its NUL) and one directory entry, in bytes.
_PATH_MAX: Final = 4096
_NAME_MAX: Final = 255
# The kernel gives up after 40 links on one lookup (ELOOP); so do we.
_MAX_LINKS: Final = 40
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class PathTextError(ValueError):
    """The path cannot name a file: NUL, a lone surrogate, too long. ``reason`` says which."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path!r} {reason}")
        self.path = path
        self.reason = reason


class UntrustedPathError(PermissionError):
    """A directory, link or file on the path could be changed by another user; ``strerror`` says which and why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(errno.EACCES, reason, path)


def check_path_text(path: str) -> bytes:
    """The bytes of ``path`` for the kernel, or ``PathTextError`` when it cannot name a file."""
    if "\0" in path:
        raise PathTextError(path, "contains a NUL character")
    if _SURROGATE.search(path):
        # From a JSON escape such as "\ud800": no character, so no bytes; and "\udcff" would silently become the
        # raw byte 0xff, which Go (writing U+FFFD) would never use.
        raise PathTextError(path, "contains a lone surrogate (a JSON escape that is no character)")
    raw = os.fsencode(path)
    if len(raw) >= _PATH_MAX:
        raise PathTextError(path, f"is longer than {_PATH_MAX - 1} bytes")
    if any(len(part) > _NAME_MAX for part in raw.split(b"/")):
        raise PathTextError(path, f"has a component longer than {_NAME_MAX} bytes")
    return raw


def _check_owner(st: os.stat_result, where: str, what: str) -> None:
    euid = os.geteuid()
    if st.st_uid not in (0, euid):
        owners = "root" if euid == 0 else f"root or uid {euid}"
        raise UntrustedPathError(where, f"{what} {where} is owned by uid {st.st_uid}, not by {owners}")


def _check_dir(fd: int, where: str, exclusive: bool) -> None:
    st = os.fstat(fd)
    _check_owner(st, where, "directory")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022 and (exclusive or not mode & stat.S_ISVTX):
        sticky = "" if exclusive else " without the sticky bit"
        raise UntrustedPathError(where, f"directory {where} is writable by group or others{sticky} (mode {mode:04o})")


def open_trusted_dir(path: str | os.PathLike[str], *, create_mode: int | None = None, exclusive: bool = False) -> int:
    """A descriptor of the directory ``path``, reached from ``/`` through trusted directories only.

    :param create_mode: create missing directories with this mode (exactly, whatever the umask); None: refuse.
    :param exclusive: the directory itself must not be writable by group or others even with the sticky bit (a
        CNI bin directory: whoever can add a file there can add a plugin).
    :raises PathTextError: the path cannot name a file.
    :raises UntrustedPathError: a directory or link on the way could be changed by another user.
    :raises OSError: a component is missing (without ``create_mode``) or not a directory, or another failure.
    """
    text = os.path.abspath(os.fspath(path))
    parts = [p for p in check_path_text(text).split(b"/") if p not in (b"", b".")]
    fd = os.open("/", _DIR_FLAGS)
    where = "/"
    links = 0
    try:
        _check_dir(fd, where, exclusive and not parts)
        while parts:
            name = parts.pop(0)
            child = os.path.join(where, os.fsdecode(name))
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                created = False
            except FileNotFoundError:
                if create_mode is None:
                    raise
                try:
                    os.mkdir(name, create_mode, dir_fd=fd)
                    created = True
                except FileExistsError:  # someone else was first: the owner check below decides
                    created = False
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                _check_owner(st, child, "symbolic link")
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), text)
                target = os.readlink(name, dir_fd=fd)
                parts[:0] = [p for p in target.split(b"/") if p not in (b"", b".")]
                if target.startswith(b"/"):
                    root_fd = os.open("/", _DIR_FLAGS)
                    os.close(fd)
                    fd, where = root_fd, "/"
                continue
            child_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child_fd
            where = os.path.normpath(child)
            if created and create_mode is not None:
                os.fchmod(fd, create_mode)
            _check_dir(fd, where, exclusive and not parts)
        return fd
    except BaseException:
        os.close(fd)
        raise


def ensure_trusted_dir(
    path: str | os.PathLike[str], *, create_mode: int | None = None, exclusive: bool = False
) -> None:
    """Check (and with ``create_mode``, create) the directory ``path`` as ``open_trusted_dir`` does."""
    os.close(open_trusted_dir(path, create_mode=create_mode, exclusive=exclusive))


def open_trusted_file(path: str | os.PathLike[str], flags: int, mode: int = 0o600) -> int:
    """Open the file ``path`` in a trusted directory, never through a link, for writing in place (a log file).

    The file must be a regular file owned by root or us with one link: a file another user planted (or a hard link
    to a file of theirs, or to one of root's) is refused. ``O_NONBLOCK`` keeps a planted FIFO from hanging the open.

    :raises PathTextError: the path cannot name a file.
    :raises UntrustedPathError: a directory or link on the way, or the file, could be changed by another user.
    :raises OSError: the open fails (a symbolic link in the file's place: ``ELOOP``).
    """
    text = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(text)
    dir_fd = open_trusted_dir(directory)
    try:
        try:
            # Checked before opening too: opening a FIFO, even without blocking, is not harmless.
            _check_file(os.stat(name, dir_fd=dir_fd, follow_symlinks=False), text)
        except FileNotFoundError:
            pass
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    try:
        _check_file(os.fstat(fd), text)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_file(st: os.stat_result, path: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise UntrustedPathError(path, f"{path} is not a regular file")
    _check_owner(st, path, "file")
    if st.st_nlink != 1:
        raise UntrustedPathError(path, f"file {path} has {st.st_nlink} links")
