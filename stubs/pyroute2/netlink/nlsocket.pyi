import os
from ctypes import CDLL
from socket import socket

from pyroute2.netlink.core import SyncAPI

class NetlinkSocket(SyncAPI):
    def __init__(
        self,
        family: int = 16,
        port: int | None = None,
        pid: int | None = None,
        fileno: int | None = None,
        sndbuf: int = 1048576,
        rcvbuf: int = 1048576,
        rcvsize: int = 16384,
        all_ns: bool = False,
        async_qsize: int | None = None,
        nlm_generator: bool = True,
        target: str = "localhost",
        ext_ack: bool = False,
        strict_check: bool = False,
        groups: int = 0,
        nlm_echo: bool = False,
        netns: str | int | None = None,
        flags: int = os.O_CREAT,
        libc: CDLL | None = None,
        use_socket: socket | None = None,
        use_event_loop: object | None = None,
        telemetry: object | None = None,
    ) -> None: ...
