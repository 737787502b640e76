# Synchronous RTNL API. At run time IPRoute forwards these methods to an AsyncIPRoute via
# __getattr__; they are declared here as ordinary methods. With pyroute2's default
# config.nlm_generator = False, "dump" requests and get_links() return tuples.
import os
from collections.abc import Callable, Sequence
from ctypes import CDLL
from socket import socket
from typing import Literal, overload

from pyroute2.netlink import nlmsg
from pyroute2.netlink.nlsocket import NetlinkSocket
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

_Dump = Literal["dump", "show"]

class IPRoute(NetlinkSocket):
    def __init__(
        self,
        port: int | None = None,
        pid: int | None = None,
        fileno: int | None = None,
        sndbuf: int = 1048576,
        rcvbuf: int = 1048576,
        rcvsize: int = 16384,
        all_ns: bool = False,
        async_qsize: int | None = None,
        nlm_generator: bool | None = None,
        target: str = "localhost",
        ext_ack: bool = False,
        strict_check: bool = False,
        groups: int = ...,
        nlm_echo: bool = False,
        # a name under /var/run/netns, a path, or an open file descriptor
        netns: str | int | None = None,
        # os.O_CREAT (the default) creates a missing namespace; 0 does not
        flags: int = os.O_CREAT,
        libc: CDLL | None = None,
        use_socket: socket | None = None,
        use_event_loop: object | None = None,
        telemetry: object | None = None,
    ) -> None: ...
    @overload
    def link(self, command: _Dump, **kwarg: object) -> tuple[ifinfmsg, ...]: ...
    @overload
    def link(self, command: str, **kwarg: object) -> Sequence[nlmsg]: ...
    @overload
    def addr(self, command: _Dump, **kwarg: object) -> tuple[ifaddrmsg, ...]: ...
    @overload
    def addr(self, command: str, **kwarg: object) -> Sequence[nlmsg]: ...
    @overload
    def route(self, command: _Dump, **kwarg: object) -> tuple[rtmsg, ...]: ...
    @overload
    def route(self, command: str, **kwarg: object) -> Sequence[nlmsg]: ...
    def link_lookup(self, match: Callable[[ifinfmsg], bool] | None = None, **kwarg: object) -> list[int]: ...
    def get_links(self, *argv: int | str, **kwarg: object) -> tuple[ifinfmsg, ...]: ...
