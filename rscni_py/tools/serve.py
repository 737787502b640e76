"""Warm mode's daemon: import a plugin once, then fork a child per call that runs exactly what ``run()`` runs.

A cold call of a Python plugin spends most of its time starting the interpreter and importing. The daemon pays that
once: it imports the plugin, warms what a first call loads (one VERSION and one ADD whose plugin method is replaced,
so nothing the plugin does on ADD happens), freezes the heap for copy-on-write and listens on a unix socket. The
runtime executes the shim (``rscni-py shim build``, rscni_py/tools/shim.c) as the plugin; the shim connects and
hands over its environment, standard streams, working directory and namespaces. The daemon forks; the child leaves
the daemon's state behind (signal wakeup fd, handlers, sockets), takes over the caller's fds, environment,
namespaces and working directory, and calls the same ``main()`` as ``run()``. See docs/warm.md.

Wire format (one ``SOCK_STREAM`` connection per call; integers in native byte order, both ends are on one host):

* request, shim to daemon: a 16-byte header ``magic "RSCQ", u16 version (1), u16 fd mask, u32 umask, u32 env
  bytes``, then the environment as ``KEY=VALUE\\0`` entries. The first byte carries the file descriptors
  (``SCM_RIGHTS``), one per set bit of the mask, in the order of :data:`FD_ROLES` (stdin, stdout, stderr, cwd,
  netns, mntns). At most :data:`MAX_ENV_BYTES` of environment and ``len(FD_ROLES)`` descriptors; anything else is
  refused.
* signals, shim to daemon: after the request, each byte is a signal number (SIGTERM, SIGINT, SIGHUP) that the shim
  received; the child raises it in itself, as the runtime's signal would have been in a cold plugin.
* status, daemon to shim: 12 bytes ``magic "RSCS", u32 kind, i32 value``: kind 0 "exited" with the exit code,
  1 "killed by signal" with the signal number, 2 "refused" with the reason (1 caller not allowed, 2 bad request,
  3 the daemon is stopping and the call never started: the shim treats the daemon as unreachable).
  The child sends its own exit status before it exits, so the status reaches the shim even when the daemon died
  meanwhile; the daemon sends the wait status when it reaps the child (covers a child killed by a signal). The shim
  acts on the first status it reads.

The child watches the connection: when the shim goes away (the runtime killed it), the child gets SIGTERM, unwinds
like a cold plugin stopped by the runtime (code 11, rollback), and SIGKILL after :data:`ORPHAN_GRACE` seconds.
"""

from __future__ import annotations

import argparse
import array
import ctypes
import dataclasses
import errno
import gc
import grp
import io
import os
import selectors
import signal
import socket
import stat
import struct
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn, TextIO

if TYPE_CHECKING:
    from rscni_py.plugin import CNIPlugin

__all__ = [
    "DEFAULT_WORKERS",
    "FD_ROLES",
    "KIND_EXITED",
    "KIND_REFUSED",
    "KIND_SIGNALED",
    "MAX_ENV_BYTES",
    "ORPHAN_GRACE",
    "PROTOCOL_VERSION",
    "REFUSED_FRAME",
    "REFUSED_PEER",
    "REFUSED_STOPPING",
    "REQUEST_HEADER",
    "REQUEST_MAGIC",
    "SHUTDOWN_GRACE",
    "STATUS_FRAME",
    "STATUS_MAGIC",
    "FrameError",
    "Request",
    "ServeError",
    "add_serve_arguments",
    "load_plugin",
    "read_request",
    "serve",
    "serve_main",
    "warm_up",
]

REQUEST_MAGIC: Final = b"RSCQ"
STATUS_MAGIC: Final = b"RSCS"
PROTOCOL_VERSION: Final = 1
#: magic, protocol version, fd mask, umask, environment bytes.
REQUEST_HEADER: Final = struct.Struct("=4sHHII")
#: magic, kind, value.
STATUS_FRAME: Final = struct.Struct("=4sIi")
#: What each bit of the request's fd mask stands for, lowest bit first; the descriptors come in this order.
FD_ROLES: Final = ("stdin", "stdout", "stderr", "cwd", "netns", "mntns")
#: The largest environment a request may carry (Linux itself caps one variable at 128 KiB).
MAX_ENV_BYTES: Final = 1024 * 1024
#: Status kinds.
KIND_EXITED: Final = 0
KIND_SIGNALED: Final = 1
KIND_REFUSED: Final = 2
#: Reasons of a refusal.
REFUSED_PEER: Final = 1
REFUSED_FRAME: Final = 2
#: The daemon stopped before serving a call that was waiting in its backlog: nothing ran, the shim may fall back.
REFUSED_STOPPING: Final = 3

DEFAULT_WORKERS: Final = 16
#: Seconds a child may keep running after its shim went away and it was sent SIGTERM.
ORPHAN_GRACE: Final = 10.0
#: Seconds in-flight calls get to finish after the daemon is asked to stop, before they are sent SIGTERM.
SHUTDOWN_GRACE: Final = 30.0
#: Seconds a caller has to send its whole request once connected.
REQUEST_TIMEOUT: Final = 5.0
_FORWARDED: Final = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
_SUN_PATH_MAX: Final = 107  # sockaddr_un.sun_path is 108 bytes with the terminating NUL
_CLONE_NEWNS: Final = 0x00020000
_CLONE_NEWNET: Final = 0x40000000


class ServeError(Exception):
    """The daemon cannot start (socket path, plugin); the message is one line for the user."""


class FrameError(Exception):
    """A request frame broke the wire format or its bounds."""


@dataclasses.dataclass
class Request:
    """One call as the shim sent it: the caller's environment, umask and file descriptors by role."""

    env: dict[str, str]
    fds: dict[str, int]
    umask: int = 0o022

    def close(self) -> None:
        """Close every descriptor still held."""
        for fd in self.fds.values():
            _close(fd)
        self.fds.clear()


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _log(message: str) -> None:
    stream = sys.__stderr__
    if stream is not None:
        try:
            stream.write(f"rscni-py serve: {message}\n")
            stream.flush()
        except (OSError, ValueError):
            pass


# --- the request -----------------------------------------------------------------------------------------------


def _recv_exactly(conn: socket.socket, size: int, what: str) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = conn.recv_into(view[got:])
        if n == 0:
            raise FrameError(f"connection closed after {got} of {size} bytes of the {what}")
        got += n
    return bytes(buffer)


def read_request(conn: socket.socket, timeout: float = REQUEST_TIMEOUT) -> Request:
    """Read and check one request frame from a connected socket (see the module docstring).

    :raises FrameError: bad magic or version, unknown fd roles, more descriptors than roles or fewer than the mask
        says, an environment larger than :data:`MAX_ENV_BYTES`, a truncated frame, or ``timeout`` exceeded.
        Every descriptor received is closed then.
    """
    conn.settimeout(timeout)
    fds: list[int] = []
    try:
        try:
            data, ancdata, flags, _ = conn.recvmsg(
                REQUEST_HEADER.size, socket.CMSG_SPACE(len(FD_ROLES) * 4), socket.MSG_CMSG_CLOEXEC
            )
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    received = array.array("i")
                    received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
                    fds.extend(received)
            if flags & socket.MSG_CTRUNC:
                raise FrameError(f"more than {len(FD_ROLES)} file descriptors")
            if not data:
                raise FrameError("connection closed before the request")
            if len(data) < REQUEST_HEADER.size:
                data += _recv_exactly(conn, REQUEST_HEADER.size - len(data), "header")
            magic, version, mask, umask, env_bytes = REQUEST_HEADER.unpack(data)
            if magic != REQUEST_MAGIC or version != PROTOCOL_VERSION:
                raise FrameError(f"not a version {PROTOCOL_VERSION} request (magic {magic!r}, version {version})")
            if umask > 0o777:
                raise FrameError(f"umask {umask:#o} is not a file mode")
            if mask >> len(FD_ROLES):
                raise FrameError(f"unknown file descriptor roles in mask {mask:#x}")
            roles = [role for bit, role in enumerate(FD_ROLES) if mask & (1 << bit)]
            if len(roles) != len(fds):
                raise FrameError(f"the mask names {len(roles)} file descriptors but {len(fds)} came")
            if env_bytes > MAX_ENV_BYTES:
                raise FrameError(f"environment of {env_bytes} bytes is larger than {MAX_ENV_BYTES}")
            block = _recv_exactly(conn, env_bytes, "environment")
        except TimeoutError:
            raise FrameError(f"request not complete within {timeout:g}s") from None
        except OSError as exc:
            raise FrameError(f"cannot read the request: {exc.strerror or exc}") from None
        if block and not block.endswith(b"\0"):
            raise FrameError("environment block does not end with a NUL byte")
        env: dict[str, str] = {}
        for entry in block.split(b"\0")[:-1]:
            key, sep, value = entry.partition(b"=")
            if sep and key:  # entries without "=" are dropped, as os.environ drops them
                env[os.fsdecode(key)] = os.fsdecode(value)
    except FrameError:
        for fd in fds:
            _close(fd)
        raise
    conn.settimeout(None)
    return Request(env=env, fds=dict(zip(roles, fds, strict=True)), umask=umask)


def _send_status(conn: socket.socket, kind: int, value: int, *, wait: bool = True) -> None:
    flags = socket.MSG_NOSIGNAL | (0 if wait else socket.MSG_DONTWAIT)
    try:
        conn.send(STATUS_FRAME.pack(STATUS_MAGIC, kind, value), flags)
    except OSError:
        pass  # the shim is gone: nobody is left to tell


# --- the child -------------------------------------------------------------------------------------------------


def _setns(fd: int, nstype: int) -> None:
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, nstype)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, nstype) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _enter_namespace(fd: int | None, name: str, nstype: int) -> None:
    """Enter the caller's namespace unless the child is already in it (no privilege needed then)."""
    if fd is None:
        return
    theirs, ours = os.fstat(fd), os.stat(f"/proc/self/ns/{name}")
    if (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino):
        _setns(fd, nstype)


def _take_stdio(fds: Mapping[str, int]) -> None:
    """Put the caller's streams on fds 0, 1 and 2 (closed where the caller had none) with fresh Python objects."""
    # A received descriptor can itself be 0, 1 or 2 when the daemon runs with those closed: move it out of the way.
    moved = {role: (os.dup(fd) if fd < 3 else fd) for role, fd in fds.items()}
    for role, fd in fds.items():
        if moved[role] != fd:
            os.close(fd)
    for target, role in enumerate(FD_ROLES[:3]):
        if role in moved:
            os.dup2(moved[role], target)
            os.close(moved[role])
        else:
            _close(target)
    encoding = "utf-8"
    sys.stdin = _stream(0, "r", encoding, "surrogateescape") if "stdin" in fds else None
    sys.stdout = _stream(1, "w", encoding, "surrogateescape") if "stdout" in fds else None
    sys.stderr = _stream(2, "w", encoding, "backslashreplace") if "stderr" in fds else None


def _stream(fd: int, mode: str, encoding: str, errors: str) -> TextIO:
    raw = io.FileIO(fd, mode, closefd=False)
    buffered: io.BufferedReader | io.BufferedWriter = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
    return io.TextIOWrapper(buffered, encoding=encoding, errors=errors, line_buffering=mode == "w")


def _coerce_locale(env: dict[str, str]) -> dict[str, str]:
    """The environment a cold interpreter started with ``env`` runs with: under the C locale, Python (PEP 538) sets
    ``LC_CTYPE=C.UTF-8`` for itself and whatever it starts (``ip``, ``iptables``, delegated plugins)."""
    if not env.get("LC_ALL") and (env.get("LC_CTYPE") or env.get("LANG") or "C") in ("C", "POSIX"):
        return {**env, "LC_CTYPE": "C.UTF-8"}
    return env


class _Watch:
    """The child's watch on its connection: forwarded signals are raised here; the shim's end means stop."""

    def __init__(self, conn: socket.socket, grace: float) -> None:
        self.conn = conn
        self.grace = grace
        self.done = False

    def start(self) -> None:
        threading.Thread(target=self._run, name="rscni-py-warm-watch", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                data = self.conn.recv(64)
            except OSError:
                data = b""
            if not data:
                break
            for signum in data:
                if signum in _FORWARDED and not self.done:
                    os.kill(os.getpid(), signum)
        if self.done:
            return
        # The shim is gone (the runtime killed it): stop like a cold plugin the runtime stopped, but not forever.
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(self.grace)
        os.kill(os.getpid(), signal.SIGKILL)


def _exit_code(stop: SystemExit) -> int:
    """The exit code the interpreter would give for an uncaught ``SystemExit``."""
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code & 0xFF
    try:
        print(stop.code, file=sys.stderr)
    except (OSError, ValueError, AttributeError):
        pass
    return 1


def _run_like_cold(plugin_cls: type[CNIPlugin[Any, Any]]) -> int:
    from rscni_py.protocol.main import main

    try:
        code = main(plugin_cls)
    except SystemExit as stop:
        code = _exit_code(stop)
    except BaseException:
        try:
            traceback.print_exc()
        except (OSError, ValueError, AttributeError):
            pass
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    return code


def _setup_failed(plugin_cls: type[CNIPlugin[Any, Any]], what: str, exc: BaseException) -> int:
    """Answer like a cold plugin that cannot proceed: code 11 on stdout, the cause on stderr."""
    import json

    from rscni_py._base.versions import ALL_VERSIONS
    from rscni_py.errors import TryAgainLaterError

    _log(f"{what}: {exc}")
    version = max(plugin_cls.supported_versions, key=ALL_VERSIONS.index)
    text = json.dumps(TryAgainLaterError(f"warm-mode call failed: {what}", str(exc)).to_dict(version), indent=4)
    try:
        os.write(1, text.encode())
    except OSError:
        pass
    return 1


def _child(plugin_cls: type[CNIPlugin[Any, Any]], conn: socket.socket, inherited: list[int], grace: float) -> NoReturn:
    """The forked child's whole life: never returns into the daemon's loop."""
    code = 1
    try:
        # Leave the daemon behind: its wakeup fd (a later dup() could land on that number and signals would then
        # write into the plugin's output), its handlers and its descriptors.
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in inherited:
            _close(fd)
        # Out of the daemon's process group: a Ctrl-C meant for a daemon in a terminal must not stop the calls.
        os.setpgid(0, 0)
        conn.setblocking(True)
        try:
            request = read_request(conn)
        except FrameError as exc:
            _log(f"refused a request: {exc}")
            _send_status(conn, KIND_REFUSED, REFUSED_FRAME)
            os._exit(1)
        cwd = request.fds.pop("cwd", None)
        netns = request.fds.pop("netns", None)
        mntns = request.fds.pop("mntns", None)
        _take_stdio(request.fds)
        os.environ.clear()
        os.environ.update(_coerce_locale(request.env))
        os.umask(request.umask)
        try:
            # Network first: the mount namespace's /proc may be the only way to name it afterwards.
            _enter_namespace(netns, "net", _CLONE_NEWNET)
            _enter_namespace(mntns, "mnt", _CLONE_NEWNS)
            if cwd is not None:
                os.fchdir(cwd)
        except OSError as exc:
            code = _setup_failed(plugin_cls, "cannot enter the caller's namespaces or working directory", exc)
        else:
            for held in (cwd, netns, mntns):
                if held is not None:
                    os.close(held)
            watch = _Watch(conn, grace)
            watch.start()
            code = _run_like_cold(plugin_cls)
            watch.done = True
        _send_status(conn, KIND_EXITED, code)
    except BaseException as exc:
        _log(f"call failed in the child: {type(exc).__name__}: {exc}")
    finally:
        os._exit(code)


# --- warming up ------------------------------------------------------------------------------------------------


def warm_up(plugin_cls: type[CNIPlugin[Any, Any]]) -> None:
    """Load what a first call loads, without running the plugin's own commands.

    One VERSION goes through the dispatcher as it is; then one ADD on a throw-away configuration goes through a
    subclass whose methods do nothing, so the configuration, CNI_ARGS and result codecs are imported and their
    caches filled while nothing the plugin does on ADD happens. Errors (a configuration class that wants keys the
    throw-away configuration lacks) only mean less is warmed.
    """
    import json
    import logging  # noqa: F401  (loaded by most calls that log; the child installs its handlers on it)

    from rscni_py._base.versions import ALL_VERSIONS, at_least
    from rscni_py.protocol.dispatch import dispatch
    from rscni_py.types import Result

    def nothing(self: object, args: object) -> None:
        del self, args

    def add(self: object, args: Any) -> Any:
        del self
        return args.prev_result or Result()

    sink = io.StringIO()
    dispatch(plugin_cls, {"CNI_COMMAND": "VERSION"}, io.BytesIO(), sink, sink)
    methods = {"add": add, "delete": nothing, "check": nothing, "gc": nothing, "status": nothing}
    warm_cls: type[CNIPlugin[Any, Any]] = type(f"_WarmUp{plugin_cls.__name__}", (plugin_cls,), methods)
    version = max(plugin_cls.supported_versions, key=ALL_VERSIONS.index)
    config: dict[str, Any] = {"cniVersion": version, "name": "rscni-py-warm-up", "type": "warm-up"}
    if at_least(version, "0.3.0"):
        address: dict[str, str] = {"address": "192.0.2.2/24", "gateway": "192.0.2.1"}
        if not at_least(version, "1.0.0"):
            address["version"] = "4"
        config["prevResult"] = {"cniVersion": version, "ips": [address]}
    env = {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": "rscni-py-warm-up",
        "CNI_NETNS": "/var/run/netns/rscni-py-warm-up",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": "/nonexistent",
        "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=warm-up",
    }
    dispatch(warm_cls, env, io.BytesIO(json.dumps(config).encode()), sink, sink)


# --- the socket ------------------------------------------------------------------------------------------------


def _private_directory(directory: Path, group: int | None) -> None:
    """Create the socket's directory (mode 0700, or 0710 for an allowed group), or check an existing one."""
    mode = 0o700 if group is None else 0o710
    created = True
    try:
        os.mkdir(directory, mode)
    except FileExistsError:
        created = False
    except OSError as exc:
        raise ServeError(f"cannot create the socket directory {directory}: {exc.strerror or exc}") from None
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        # O_NOFOLLOW with O_DIRECTORY fails with ELOOP or ENOTDIR on a symlink, depending on the kernel.
        symlink = exc.errno in (errno.ELOOP, errno.ENOTDIR) and directory.is_symlink()
        reason = "is a symbolic link" if symlink else (exc.strerror or str(exc))
        raise ServeError(f"socket directory {directory}: {reason}") from None
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid():
            raise ServeError(f"socket directory {directory} belongs to uid {info.st_uid}, not to this daemon")
        if created:
            # mkdir's mode went through the umask; set it exactly.
            if group is not None:
                os.fchown(fd, -1, group)
            os.fchmod(fd, mode)
        elif stat.S_IMODE(info.st_mode) != mode or (group is not None and info.st_gid != group):
            raise ServeError(
                f"socket directory {directory} has mode {stat.S_IMODE(info.st_mode):04o}, want {mode:04o}"
                + ("" if group is None else f" and group {group}")
                + ": give the socket a directory of its own"
            )
    finally:
        os.close(fd)


def _remove_stale(path: Path) -> None:
    """Remove a socket left by a daemon that died; refuse anything else at that path."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ServeError(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except ConnectionRefusedError:
        os.unlink(path)
        return
    except OSError as exc:
        raise ServeError(f"cannot check the existing socket {path}: {exc.strerror or exc}") from None
    finally:
        probe.close()
    raise ServeError(f"another daemon is serving {path}")


def _listen(path: Path, group: int | None) -> tuple[socket.socket, int]:
    """Bind and listen on ``path`` (mode 0600, or 0660 for an allowed group); return the socket and its inode."""
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        raise ServeError(f"socket path {path} is longer than {_SUN_PATH_MAX} bytes")
    _private_directory(path.parent, group)
    _remove_stale(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    except OSError as exc:
        listener.close()
        raise ServeError(f"cannot bind {path}: {exc.strerror or exc}") from None
    finally:
        os.umask(old)
    if group is not None:
        os.chown(path, -1, group, follow_symlinks=False)
        os.chmod(path, 0o660)
    listener.listen(socket.SOMAXCONN)
    listener.setblocking(False)
    return listener, os.lstat(path).st_ino


# --- the daemon ------------------------------------------------------------------------------------------------


class _Daemon:
    def __init__(
        self,
        plugin_cls: type[CNIPlugin[Any, Any]],
        listener: socket.socket,
        workers: int,
        allow_group: int | None,
        grace: float,
        orphan_grace: float,
    ) -> None:
        self.plugin_cls = plugin_cls
        self.listener = listener
        self.workers = workers
        self.allow_group = allow_group
        self.grace = grace
        self.orphan_grace = orphan_grace
        self.children: dict[int, socket.socket] = {}
        self.stopping = False
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        self.accepting = False

    def _on_stop(self, signum: int, frame: object) -> None:
        del signum, frame
        self.stopping = True

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # only to wake the loop through the wakeup fd
        signal.set_wakeup_fd(self.wake_w.fileno(), warn_on_full_buffer=False)

    def _accepting(self, wanted: bool) -> None:
        if wanted != self.accepting:
            if wanted:
                self.selector.register(self.listener, selectors.EVENT_READ)
            else:
                self.selector.unregister(self.listener)
            self.accepting = wanted

    def _allowed(self, conn: socket.socket) -> bool:
        pid, uid, gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        if uid == os.geteuid() or (self.allow_group is not None and gid == self.allow_group):
            return True
        _log(
            f"refused a caller: pid {pid}, uid {uid}, gid {gid} (allowed: uid {os.geteuid()}"
            + ("" if self.allow_group is None else f", gid {self.allow_group}")
            + ")"
        )
        return False

    def _accept(self) -> None:
        while len(self.children) < self.workers:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: keep serving the calls in flight
                _log(f"accept failed: {exc}")
                return
            if not self._allowed(conn):
                _send_status(conn, KIND_REFUSED, REFUSED_PEER, wait=False)
                conn.close()
                continue
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
            inherited = [
                self.listener.fileno(),
                self.wake_r.fileno(),
                self.wake_w.fileno(),
                self.selector.fileno() if hasattr(self.selector, "fileno") else -1,
                *(other.fileno() for other in self.children.values()),
            ]
            pid = os.fork()
            if pid == 0:
                _child(self.plugin_cls, conn, [fd for fd in inherited if fd >= 0], self.orphan_grace)
            self.children[pid] = conn

    def _reap(self) -> None:
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 1 << 8
            if done == 0:
                continue
            conn = self.children.pop(pid)
            if os.WIFSIGNALED(status):
                _send_status(conn, KIND_SIGNALED, os.WTERMSIG(status), wait=False)
            else:
                _send_status(conn, KIND_EXITED, os.waitstatus_to_exitcode(status), wait=False)
            conn.close()

    def _drain(self) -> None:
        try:
            while self.wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def run(self) -> None:
        while not self.stopping:
            self._accepting(len(self.children) < self.workers)
            for key, _ in self.selector.select():
                if key.fileobj is self.wake_r:
                    self._drain()
                elif not self.stopping:
                    self._accept()
            self._reap()

    def shutdown(self) -> None:
        """Stop accepting; let the calls in flight finish within the grace, then stop them (code 11)."""
        self._accepting(False)
        # Calls still waiting in the backlog never started: tell them, so their shims fall back instead of failing.
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                break
            _send_status(conn, KIND_REFUSED, REFUSED_STOPPING, wait=False)
            conn.close()
        self.listener.close()
        self._wait(self.grace)
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if not self.children:
                break
            for pid in self.children:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            self._wait(wait)

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        self._reap()
        while self.children and time.monotonic() < end:
            self.selector.select(timeout=min(0.2, max(0.0, end - time.monotonic())))
            self._drain()
            self._reap()


def serve(
    plugin_cls: type[CNIPlugin[Any, Any]],
    socket_path: str | os.PathLike[str],
    *,
    workers: int = DEFAULT_WORKERS,
    allow_group: int | None = None,
    shutdown_grace: float = SHUTDOWN_GRACE,
    orphan_grace: float = ORPHAN_GRACE,
) -> int:
    """Serve ``plugin_cls`` in warm mode on a unix socket until SIGTERM or SIGINT; return the exit code (0).

    Imports are already done by the caller (it holds the class); this warms what a first call loads, creates the
    socket's directory (0700) and the socket (0600) whatever the umask, and is ready when the socket accepts. At most
    ``workers`` calls run at once; later ones wait in the listen backlog. Callers whose uid differs from the
    daemon's (and whose gid is not ``allow_group``) are refused and logged. On SIGTERM it stops accepting, gives
    the calls in flight ``shutdown_grace`` seconds, then stops them the way a runtime would (SIGTERM). A call whose
    shim went away (the runtime killed it) gets SIGTERM at once and SIGKILL ``orphan_grace`` seconds later.

    The plugin runs with the daemon's credentials, cgroup and rlimits, whoever called: allow a group only when its
    members may run the plugin as the daemon's user. Must be called from the main thread of a process with no other
    threads: every call is a ``fork()``.

    :raises ServeError: the socket cannot be set up.
    """
    if workers < 1:
        raise ServeError(f"workers must be at least 1, not {workers}")
    path = Path(os.path.abspath(socket_path))
    try:
        warm_up(plugin_cls)
    except Exception as exc:  # a plugin that cannot be warmed still serves; the first calls pay for it
        _log(f"warm-up incomplete: {type(exc).__name__}: {exc}")
    listener, inode = _listen(path, allow_group)
    daemon = _Daemon(plugin_cls, listener, workers, allow_group, shutdown_grace, orphan_grace)
    daemon.install_signals()
    gc.freeze()  # the warm heap stays shared with the children instead of being touched by their collections
    _log(f"ready: serving {plugin_cls.__name__} on {path} with {workers} workers (pid {os.getpid()})")
    try:
        daemon.run()
    finally:
        try:
            if os.lstat(path).st_ino == inode:
                os.unlink(path)  # ours still; a restarted daemon's socket is left alone
        except OSError:
            pass
        daemon.shutdown()
    _log("stopped")
    return 0


# --- command line ----------------------------------------------------------------------------------------------


def _group(value: str) -> int:
    if value.isdigit():
        return int(value)
    try:
        return grp.getgrnam(value).gr_gid
    except KeyError:
        raise argparse.ArgumentTypeError(f"unknown group {value!r}") from None


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``rscni-py serve`` arguments to ``parser`` (for :func:`serve_main`)."""
    parser.description = (
        "Serve a plugin in warm mode (foreground): import it once and fork a child per call that runs exactly what "
        "run() runs, with the caller's environment, streams, working directory and namespaces. The runtime executes "
        "a shim built with 'rscni-py shim build'. Ready when the socket accepts connections; SIGTERM stops it "
        "after the calls in flight finish."
    )
    parser.add_argument("plugin", metavar="PLUGIN", type=Path, help="plugin module (.py) defining a CNIPlugin subclass")
    parser.add_argument("--socket", required=True, type=Path, help="unix socket to listen on (its directory: 0700)")
    parser.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help=f"calls served at once (default {DEFAULT_WORKERS})"
    )
    parser.add_argument("--class", dest="class_name", default=None, metavar="NAME", help="the CNIPlugin subclass")
    parser.add_argument(
        "--allow-group",
        type=_group,
        default=None,
        metavar="GROUP",
        help="also accept callers whose primary group is GROUP (directory 0710, socket 0660, of that group)",
    )
    parser.add_argument(
        "--orphan-grace",
        type=float,
        default=ORPHAN_GRACE,
        metavar="SECONDS",
        help=f"SIGKILL a call this long after its shim went away and it was sent SIGTERM (default {ORPHAN_GRACE:g})",
    )


def load_plugin(path: Path, class_name: str | None = None) -> type[CNIPlugin[Any, Any]]:
    """Import a plugin module under its own name (its main guard stays quiet) and return its plugin class.

    :raises ServeError: the file cannot be imported or does not define exactly one plugin class.
    """
    from rscni_py.tools.bundle import BundleError, _find_plugin_class, _import_plugin

    if not path.is_file() or path.suffix != ".py" or not path.stem.isidentifier():
        raise ServeError(f"plugin {path}: expected a Python module file named like name.py")
    if path.stem in sys.modules or path.stem in sys.stdlib_module_names:
        raise ServeError(f"plugin {path}: module name {path.stem!r} clashes with an imported module; rename the file")
    try:
        module = _import_plugin(path.resolve(), path.stem, path, keep=True)
        cls: type[CNIPlugin[Any, Any]] = getattr(module, _find_plugin_class(module, path, class_name))
    except BundleError as exc:
        raise ServeError(str(exc)) from None
    return cls


def serve_main(ns: argparse.Namespace) -> int:
    """Run ``rscni-py serve`` for parsed arguments; one error line on stderr and exit code 1 on failure."""
    try:
        return serve(
            load_plugin(ns.plugin, ns.class_name),
            ns.socket,
            workers=ns.workers,
            allow_group=ns.allow_group,
            orphan_grace=ns.orphan_grace,
        )
    except ServeError as exc:
        print(f"rscni-py serve: error: {exc}", file=sys.stderr)
        return 1
