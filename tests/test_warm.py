"""Warm mode, the parts testable without root: request frames and their bounds, building the shim, the shim's own
answers when the daemon is unreachable, the worker limit, stopping the daemon, and the fallback."""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rscni_py.cli import main as cli_main
from rscni_py.tools.serve import (
    FD_ROLES,
    KIND_REFUSED,
    MAX_ENV_BYTES,
    REFUSED_STOPPING,
    REQUEST_HEADER,
    REQUEST_MAGIC,
    STATUS_FRAME,
    STATUS_MAGIC,
    FrameError,
    read_request,
)
from rscni_py.tools.shim import ShimError, build_shim
from tests.warm_support import ROOT, finish, run, shim_for, start, wait_until, warm_daemon

DEBUG = ROOT / "examples" / "debug" / "rscni_debug.py"
GATE = ROOT / "tests" / "plugins" / "gate.py"
ATTACH = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"}


# --- request frames --------------------------------------------------------------------------------------------


def header(mask: int, env_bytes: int, magic: bytes = REQUEST_MAGIC, version: int = 1, umask: int = 0o022) -> bytes:
    return REQUEST_HEADER.pack(magic, version, mask, umask, env_bytes)


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    yield client, server
    client.close()
    server.close()


def test_request_is_read_with_its_descriptors(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    env = b"CNI_COMMAND=VERSION\0EMPTY=\0NOEQUALS\0A=b=c\0"
    r, w = os.pipe()
    socket.send_fds(client, [header(0b11, len(env), umask=0o027) + env], [r, w])
    os.close(r)
    os.close(w)
    request = read_request(server)
    try:
        assert (request.env, request.umask) == ({"CNI_COMMAND": "VERSION", "EMPTY": "", "A": "b=c"}, 0o027)
        assert sorted(request.fds) == ["stdin", "stdout"]
        os.write(request.fds["stdout"], b"x")
        assert os.read(request.fds["stdin"], 1) == b"x"
    finally:
        request.close()


def test_environment_bytes_are_decoded_like_os_environ(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    env = b"K=\xff\xfe\0"
    client.sendall(header(0, len(env)) + env)
    assert read_request(server).env == {"K": os.fsdecode(b"\xff\xfe")}


BAD_FRAMES = [
    ("bad magic", header(0, 0, magic=b"XXXX"), 0, "not a version 1 request (magic b'XXXX', version 1)"),
    ("bad version", header(0, 0, version=2), 0, "not a version 1 request (magic b'RSCQ', version 2)"),
    ("unknown role", header(1 << len(FD_ROLES), 0), 0, "unknown file descriptor roles in mask 0x40"),
    ("not a umask", header(0, 0, umask=0o1000), 0, "umask 0o1000 is not a file mode"),
    ("fewer fds than the mask", header(0b111, 0), 2, "the mask names 3 file descriptors but 2 came"),
    ("more fds than roles", header(0b111111, 0), 7, "more than 6 file descriptors"),
    ("environment too large", header(0, MAX_ENV_BYTES + 1), 0, "environment of 1048577 bytes is larger than 1048576"),
    ("truncated environment", header(0, 10) + b"A=1\0", 0, "connection closed after 4 of 10 bytes of the environment"),
    ("environment without a final NUL", header(0, 3) + b"A=1", 0, "environment block does not end with a NUL byte"),
    ("truncated header", header(0, 0)[:5], 0, "connection closed after 0 of 11 bytes of the header"),
    ("nothing", b"", 0, "connection closed before the request"),
]


@pytest.mark.parametrize(("frame", "nfds", "message"), [c[1:] for c in BAD_FRAMES], ids=[c[0] for c in BAD_FRAMES])
def test_bad_frames_are_refused_and_their_descriptors_closed(
    pair: tuple[socket.socket, socket.socket], frame: bytes, nfds: int, message: str
) -> None:
    client, server = pair
    before = open_fds()
    if frame:
        fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(nfds)]
        socket.send_fds(client, [frame], fds) if fds else client.sendall(frame)
        for fd in fds:
            os.close(fd)
    client.shutdown(socket.SHUT_WR)
    with pytest.raises(FrameError) as caught:
        read_request(server)
    assert str(caught.value) == message
    assert open_fds() == before


def test_a_request_that_never_completes_times_out(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    client.sendall(header(0, 100) + b"A=1\0")
    with pytest.raises(FrameError) as caught:
        read_request(server, timeout=0.1)
    assert str(caught.value) == "request not complete within 0.1s"


# --- building the shim -----------------------------------------------------------------------------------------

BUILD_ERRORS = [
    ("relative socket", "run/x.sock", "socket path 'run/x.sock' must be an absolute path"),
    ("long socket", "/" + "x" * 107, f"socket path '/{'x' * 107}' is longer than 107 bytes (sun_path)"),
    ("non-ASCII socket", "/run/\u00e9.sock", "socket path '/run/\u00e9.sock' must be printable ASCII"),
]


@pytest.mark.parametrize(("socket_path", "message"), [c[1:] for c in BUILD_ERRORS], ids=[c[0] for c in BUILD_ERRORS])
def test_bad_socket_paths_are_refused(tmp_path: Path, socket_path: str, message: str) -> None:
    with pytest.raises(ShimError) as caught:
        build_shim(tmp_path / "shim", socket_path)
    assert str(caught.value).startswith(message)
    assert not (tmp_path / "shim").exists()


def test_no_compiler_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    assert cli_main(["shim", "build", "-o", str(tmp_path / "shim"), "--socket", "/run/x.sock"]) == 1
    assert capsys.readouterr() == (
        "",
        f"rscni-py shim: error: no C compiler found ({tmp_path / 'no-such-cc'}); install one with the static C "
        "library (Debian: gcc libc6-dev)\n",
    )


def test_shim_is_a_static_executable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["shim", "build", "-o", str(tmp_path / "shim"), "--socket", "/run/x.sock"]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'shim'}\n"
    assert (tmp_path / "shim").stat().st_mode & 0o777 == 0o755
    # A static executable has no program interpreter (no dynamic loader, so no libc needed on the node).
    assert program_header_types(tmp_path / "shim").isdisjoint({PT_INTERP, PT_DYNAMIC})


PT_DYNAMIC, PT_INTERP = 2, 3


def program_header_types(path: Path) -> set[int]:
    """The p_type of every program header of a 64-bit little-endian ELF file."""
    data = path.read_bytes()
    assert data[:6] == b"\x7fELF\x02\x01"
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return {struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)}


# --- the shim alone: the daemon is unreachable -----------------------------------------------------------------

UNREACHABLE = [
    ("version from the configuration", "ADD", b'{"cniVersion": "0.4.0", "name": "n"}', "0.4.0"),
    ("no cniVersion means 0.1.0", "ADD", b'{"name": "n", "x": [1, {"cniVersion": "9"}]}', "0.1.0"),
    ("empty cniVersion means 0.1.0", "DEL", b'{"cniVersion": "", "name": "n"}', "0.1.0"),
    ("bad JSON", "ADD", b'{"cniVersion": ', "1.1.0"),
    ("VERSION reads no stdin", "VERSION", b'{"cniVersion": "0.4.0"}', "1.1.0"),
]


@pytest.mark.parametrize(("command", "stdin", "version"), [c[1:] for c in UNREACHABLE], ids=[c[0] for c in UNREACHABLE])
def test_unreachable_daemon_is_code_11(tmp_path: Path, command: str, stdin: bytes, version: str) -> None:
    sock = tmp_path / "none" / "d.sock"
    shim = shim_for(tmp_path / "shim", sock)
    code, out, err = run(shim, {"CNI_COMMAND": command, **ATTACH}, stdin)
    assert (code, json.loads(out), err) == (
        1,
        {
            "cniVersion": version,
            "code": 11,
            "msg": "cannot reach the warm-mode daemon",
            "details": f"{sock}: No such file or directory",
        },
        "",
    )
    # Laid out as json.dumps(indent=4) lays out a cold plugin's error.
    assert out == json.dumps(json.loads(out), indent=4)


def test_unreachable_daemon_runs_the_fallback(tmp_path: Path) -> None:
    fallback = tmp_path / "fallback"
    fallback.write_text('#!/bin/sh\necho "fallback $CNI_COMMAND $(cat)"\nexit 3\n')
    fallback.chmod(0o755)
    shim = shim_for(tmp_path / "shim", tmp_path / "none" / "d.sock", fallback)
    assert run(shim, {"CNI_COMMAND": "ADD"}, b"config") == (3, "fallback ADD config\n", "")


def test_too_large_environment_is_refused_by_the_shim(tmp_path: Path) -> None:
    with warm_daemon(DEBUG, tmp_path / "s" / "d.sock", tmp_path / "log") as daemon:
        shim = shim_for(tmp_path / "shim", daemon.socket_path)
        big = {f"BIG{i}": "x" * 100_000 for i in range(11)}
        code, out, _ = run(shim, {"CNI_COMMAND": "VERSION", **big})
    assert (code, json.loads(out)["code"], json.loads(out)["details"]) == (
        1,
        11,
        f"{daemon.socket_path}: the environment is larger than the daemon accepts",
    )


# --- the daemon ------------------------------------------------------------------------------------------------


def gate_config(directory: Path, mode: str = "ok") -> bytes:
    return json.dumps(
        {"cniVersion": "1.0.0", "name": "n", "type": "gate", "dir": str(directory), "mode": mode}
    ).encode()


GATE_RESULT = {"cniVersion": "1.0.0", "ips": [{"address": "192.0.2.7/24"}]}


def test_calls_beyond_the_workers_wait_and_all_succeed(tmp_path: Path) -> None:
    with warm_daemon(DEBUG, tmp_path / "s" / "d.sock", tmp_path / "log", "--workers", "1") as daemon:
        shim = shim_for(tmp_path / "shim", daemon.socket_path)
        config = json.dumps({"cniVersion": "1.0.0", "name": "n", "type": "d", "cniOutput": str(tmp_path / "o")})
        results: list[tuple[int, str, str]] = []

        def call(index: int) -> None:
            results.append(run(shim, {"CNI_COMMAND": "ADD", **ATTACH, "CNI_CONTAINERID": f"c{index}"}, config.encode()))

        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [(0, json.dumps({"cniVersion": "1.0.0"}, indent=4), "")] * 8
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(f"c{i}-Add" for i in range(8))


def test_sigterm_lets_the_call_in_flight_finish(tmp_path: Path) -> None:
    with warm_daemon(GATE, tmp_path / "s" / "d.sock", tmp_path / "log") as daemon:
        shim = shim_for(tmp_path / "shim", daemon.socket_path)
        call = start(shim, {"CNI_COMMAND": "ADD", **ATTACH}, gate_config(tmp_path))
        wait_until((tmp_path / "started").exists, what="the call to start")
        daemon.proc.terminate()
        # It stops accepting at once; the call in flight goes on.
        wait_until(lambda: not daemon.socket_path.exists(), what="the socket to go")
        assert daemon.proc.poll() is None
        (tmp_path / "release").write_text("")
        code, out, _ = finish(call)
        assert (code, json.loads(out)) == (0, GATE_RESULT)
        assert daemon.proc.wait(timeout=30) == 0
    assert daemon.log_text().splitlines()[-1] == "rscni-py serve: stopped"


def test_calls_waiting_when_the_daemon_stops_are_told_they_never_started(tmp_path: Path) -> None:
    with warm_daemon(GATE, tmp_path / "s" / "d.sock", tmp_path / "log", "--workers", "1") as daemon:
        first = start(
            shim_for(tmp_path / "shim", daemon.socket_path), {"CNI_COMMAND": "ADD", **ATTACH}, gate_config(tmp_path)
        )
        wait_until((tmp_path / "started").exists, what="the first call to start")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as waiting:
            waiting.connect(str(daemon.socket_path))  # the one worker is busy: this waits in the backlog
            daemon.proc.terminate()
            status = STATUS_FRAME.unpack(waiting.recv(STATUS_FRAME.size))
        assert status == (STATUS_MAGIC, KIND_REFUSED, REFUSED_STOPPING)
        (tmp_path / "release").write_text("")
        code, out, _ = finish(first)
        assert (code, json.loads(out)) == (0, GATE_RESULT)
        assert daemon.proc.wait(timeout=30) == 0


def test_a_call_that_never_started_goes_to_the_fallback(tmp_path: Path) -> None:
    fallback = tmp_path / "fallback"
    fallback.write_text('#!/bin/sh\necho "fallback $CNI_COMMAND $(cat)"\n')
    fallback.chmod(0o755)
    sock = tmp_path / "d.sock"
    shim = shim_for(tmp_path / "shim", sock, fallback)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stopping:
        # A daemon that is stopping: it answers the request with "never started".
        stopping.bind(str(sock))
        stopping.listen()
        call = start(shim, {"CNI_COMMAND": "DEL", **ATTACH}, b"config")
        conn, _ = stopping.accept()
        with conn:
            conn.sendall(STATUS_FRAME.pack(STATUS_MAGIC, KIND_REFUSED, REFUSED_STOPPING))
    assert finish(call) == (0, "fallback DEL config\n", "")
