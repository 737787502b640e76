"""Machinery for the integration tests: a real CNI runtime (libcni) driving real plugins in real namespaces.

The runtime is ``cni-driver``, a small Go program in ``driver/`` built against Debian's libcni source. It reads a
network configuration file, runs ADD, CHECK, DEL, VERSION or validation through libcni exactly as a container runtime
would, and prints one JSON reply. Everything a test creates on the host (namespaces, links, IPAM state, libcni's
cache) is either inside the test's ``tmp_path`` or registered here so that it is removed again, also when the test
fails.

The fixtures in ``conftest.py`` hand out the objects defined here; see ``README.md`` for the fixture API.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import pytest

from rscni_py.testing import install_script

__all__ = [
    "HERE",
    "LEASE_DIR",
    "REFERENCE_PLUGINS",
    "REFERENCE_PLUGIN_DIR",
    "REPO_ROOT",
    "TOOLS",
    "CNIRuntime",
    "DriverCommand",
    "DriverError",
    "HostLinks",
    "NetNS",
    "NetworkLease",
    "acquire_lease",
    "build_driver",
    "create_netns",
    "delete_netns",
    "expect_ok",
    "missing_requirements",
    "missing_tools",
    "namespaces",
    "reap_stale_netns",
    "require",
]

HERE: Final = Path(__file__).resolve().parent
#: The worktree root: put on the PYTHONPATH of installed Python plugins so that ``rscni_py`` imports uninstalled.
REPO_ROOT: Final = HERE.parent.parent
#: Where Debian's containernetworking-plugins installs the reference plugins.
REFERENCE_PLUGIN_DIR: Final = Path("/usr/lib/cni")
#: The reference plugins the integration tests may rely on.
REFERENCE_PLUGINS: Final = ("bridge", "host-local", "loopback", "ptp", "tuning", "portmap")
LIBCNI_SOURCE: Final = Path("/usr/share/gocode/src/github.com/containernetworking/cni/libcni")
#: Cross-process registry of the 10.248.x.0/24 networks in use, so that concurrent test sessions on one host never
#: hand out the same subnet or bridge name.
LEASE_DIR: Final = Path("/run/rscni-integration")

DriverCommand = Literal["add", "check", "del", "version", "validate"]


class DriverError(RuntimeError):
    """The driver itself failed (exit status != 0): a bug in the harness, not a CNI protocol error."""


#: The commands every integration test may run, with the Debian package that has each.
TOOLS: Final = {"ip": "iproute2", "ping": "iputils-ping", "go": "golang-go"}


def missing_tools(tools: Mapping[str, str]) -> list[str]:
    """One line per command of ``tools`` (command -> Debian package) that is not on ``PATH``."""
    return [
        f"'{tool}' not found (Debian package {package})" for tool, package in tools.items() if not shutil.which(tool)
    ]


def require(*problems: str) -> None:
    """Skip naming everything missing at once: the common requirements and ``problems``, which a test module with
    needs of its own (a container runtime, an image's content) adds.  Under ``CI=true`` the skip fails
    (tests/skip_policy.py)."""
    every = [*missing_requirements(), *problems]
    if every:
        pytest.skip("; ".join(every))


def missing_requirements() -> list[str]:
    """Say what this machine lacks to run the integration tests (empty list: nothing)."""
    problems: list[str] = []
    if os.geteuid() != 0:
        problems.append("not running as root (network namespaces and links need root)")
    problems += missing_tools(TOOLS)
    if not LIBCNI_SOURCE.is_dir():
        problems.append(f"{LIBCNI_SOURCE} missing (Debian package golang-github-appc-cni-dev)")
    absent = [name for name in REFERENCE_PLUGINS if not (REFERENCE_PLUGIN_DIR / name).is_file()]
    if absent:
        problems.append(
            f"reference plugins {', '.join(absent)} missing in {REFERENCE_PLUGIN_DIR}"
            " (Debian package containernetworking-plugins)"
        )
    return problems


def build_driver() -> Path:
    """Build ``cni-driver`` with ``build_driver.sh`` (offline, GOPATH mode) and return the binary's path."""
    output = HERE / ".build" / "cni-driver"
    proc = subprocess.run([str(HERE / "build_driver.sh"), str(output)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DriverError(f"building cni-driver failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return output


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def _link_exists(name: str, netns: str | None = None) -> bool:
    prefix = ["-n", netns] if netns is not None else []
    return _ip(*prefix, "link", "show", "dev", name, check=False).returncode == 0


@dataclass
class HostLinks:
    """Host-side links (bridges, veth ends) a test expects to appear; each is deleted at teardown if present."""

    names: list[str] = field(default_factory=list)

    def track(self, name: str) -> str:
        """Register a host link name for removal at teardown and return it."""
        if name not in self.names:
            self.names.append(name)
        return name

    def exists(self, name: str) -> bool:
        """Whether a link of this name exists in the host namespace."""
        return _link_exists(name)

    def cleanup(self) -> list[str]:
        """Delete every tracked link that still exists; return the ones that could not be deleted."""
        failed = []
        for name in reversed(self.names):
            if _link_exists(name) and _ip("link", "del", "dev", name, check=False).returncode != 0:
                failed.append(name)
        return failed


@dataclass(frozen=True)
class NetNS:
    """A named network namespace created with ``ip netns add``: the container side of a CNI attachment."""

    name: str

    @property
    def path(self) -> str:
        """The namespace's path, as passed to plugins in ``CNI_NETNS``."""
        return f"/run/netns/{self.name}"

    def ip(self, *args: str) -> str:
        """Run ``ip -n NAME ARGS...`` and return its stdout (raises on failure)."""
        return _ip("-n", self.name, *args).stdout

    def exec(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace (``ip netns exec``)."""
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True, text=True, check=check)

    def has_link(self, ifname: str) -> bool:
        """Whether the namespace has an interface of this name."""
        return _link_exists(ifname, self.name)

    def links(self) -> list[str]:
        """Names of all interfaces in the namespace, in kernel order."""
        reply: list[dict[str, Any]] = json.loads(self.ip("-j", "link", "show"))
        return [str(link["ifname"]) for link in reply]

    def addresses(self, ifname: str) -> list[str]:
        """The interface's global addresses as ``ADDR/PREFIX`` strings, IPv4 first, in kernel order."""
        reply: list[dict[str, Any]] = json.loads(self.ip("-j", "addr", "show", "dev", ifname))
        found: list[str] = []
        for link in reply:
            for info in link.get("addr_info", []):
                if info.get("scope") == "global":
                    found.append(f"{info['local']}/{info['prefixlen']}")
        return sorted(found, key=lambda a: ipaddress.ip_interface(a).version)

    def routes(self) -> list[dict[str, Any]]:
        """The namespace's IPv4 main routing table as iproute2 JSON."""
        routes: list[dict[str, Any]] = json.loads(self.ip("-j", "-4", "route", "show"))
        return routes


#: Names of the namespaces this harness creates: prefix, creating PID, random part. The PID lets a later session
#: recognise namespaces left behind by a run that was killed before its teardown.
_NETNS_NAME: Final = re.compile(r"^rscni-it-(?P<pid>[0-9]+)-[0-9a-f]{8}$")


def create_netns() -> NetNS:
    """Create a uniquely named namespace; the caller must delete it (``delete_netns``)."""
    ns = NetNS(f"rscni-it-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    _ip("netns", "add", ns.name)
    return ns


def reap_stale_netns() -> list[str]:
    """Delete namespaces of this harness whose creating process is gone; return their names."""
    reaped = []
    netns_dir = Path("/run/netns")
    for entry in sorted(netns_dir.iterdir()) if netns_dir.is_dir() else []:
        match = _NETNS_NAME.match(entry.name)
        if match and not Path(f"/proc/{match['pid']}").exists():
            delete_netns(NetNS(entry.name))
            reaped.append(entry.name)
    return reaped


def delete_netns(ns: NetNS) -> None:
    """Delete a namespace if it still exists; veth ends inside it vanish with it."""
    if Path(ns.path).exists():
        _ip("netns", "del", ns.name)


@dataclass(frozen=True)
class NetworkLease:
    """An IPv4 /24 from 10.248.0.0/16 and a bridge name reserved for one test, unique across processes."""

    index: int
    #: Open descriptor of the lock file; the ``flock`` on it is the reservation.
    lock_fd: int = field(repr=False, compare=False)

    @property
    def subnet(self) -> str:
        """The network, e.g. ``10.248.7.0/24``."""
        return f"10.248.{self.index}.0/24"

    @property
    def gateway(self) -> str:
        """The first host address (what host-local picks as gateway by default), e.g. ``10.248.7.1``."""
        return f"10.248.{self.index}.1"

    def host(self, n: int) -> str:
        """The n-th address of the subnet, e.g. ``host(2) == "10.248.7.2"``."""
        return f"10.248.{self.index}.{n}"

    @property
    def bridge(self) -> str:
        """A bridge name nobody else uses (at most 15 characters, the kernel's limit)."""
        return f"rscni-br{self.index}"

    def release(self) -> None:
        """Give the lease back (closing the descriptor drops the lock)."""
        os.close(self.lock_fd)


def acquire_lease() -> NetworkLease:
    """Reserve a free 10.248.x.0/24 (x in 0..255) by taking an exclusive ``flock`` on ``LEASE_DIR/net-x``.

    The kernel drops the lock when its holder dies, so a killed test run never blocks an index. A bridge of that
    index found after taking the lock is a leftover of such a run (the naming scheme says it is ours): it is removed.
    """
    LEASE_DIR.mkdir(mode=0o700, exist_ok=True)
    for index in range(256):
        fd = os.open(LEASE_DIR / f"net-{index}", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        lease = NetworkLease(index, fd)
        if _link_exists(lease.bridge):
            _ip("link", "del", "dev", lease.bridge, check=False)
        return lease
    raise RuntimeError(f"all 256 test networks in {LEASE_DIR} are in use")


def expect_ok(reply: Mapping[str, Any]) -> Any:
    """Return ``reply["result"]`` of a successful driver reply, or fail the test showing libcni's error."""
    if reply.get("ok") is not True:
        pytest.fail(f"CNI operation failed: {json.dumps(reply)}", pytrace=False)
    return reply.get("result")


class CNIRuntime:
    """A container runtime for one test: runs ``cni-driver`` with a private cache, IPAM dir and plugin dir.

    ``CNI_PATH`` is ``plugin_dir`` (empty; tests put the plugins under test there) followed by Debian's reference
    plugins in ``/usr/lib/cni``. Every ADD is remembered; at teardown each attachment that was not deleted
    successfully gets a DEL, so plugins can undo host-side state before namespaces and links are removed.
    """

    def __init__(self, driver: Path, workdir: Path) -> None:
        self.driver = driver
        self.workdir = workdir
        #: libcni's cache directory (results/ and the cached configs of each attachment live here).
        self.cache_dir = workdir / "cni-cache"
        #: host-local's ``dataDir``; see :meth:`host_local`.
        self.ipam_dir = workdir / "ipam"
        #: First entry of CNI_PATH; put plugin executables under test here.
        self.plugin_dir = workdir / "cni-bin"
        self.plugin_dir.mkdir(parents=True, exist_ok=True)
        #: A container ID unique to this test, used when a call does not pass one.
        self.container_id = f"rscni-{uuid.uuid4().hex[:12]}"
        #: stderr of the last driver run (plugins' stderr ends up there when they succeed).
        self.last_stderr = ""
        # Driver arguments of each ADD not yet undone by a successful DEL, keyed by (config file, container ID,
        # ifname): what identifies an attachment to libcni.
        self._attached: dict[tuple[str, str, str], list[str]] = {}
        self._configs: dict[str, Path] = {}

    @property
    def cni_path(self) -> list[Path]:
        """The default plugin search path."""
        return [self.plugin_dir, REFERENCE_PLUGIN_DIR]

    def install_plugin(
        self,
        name: str,
        script: Path,
        *,
        python: str = sys.executable,
        pythonpath: Sequence[Path] = (REPO_ROOT,),
    ) -> Path:
        """Make a Python plugin script runnable by libcni as plugin ``type`` ``name``; return the executable.

        libcni executes ``<CNI_PATH entry>/<type>`` directly, so this writes a small shell wrapper into
        :attr:`plugin_dir` that runs ``script`` with this test's interpreter (the shared venv) and ``pythonpath``
        prepended to ``PYTHONPATH``.
        """
        if not script.is_file():
            raise FileNotFoundError(f"plugin script {script} does not exist")
        return install_script(self.plugin_dir, name, script, python=python, pythonpath=pythonpath)

    def host_local(self, *subnets: str, **extra: Any) -> dict[str, Any]:
        """A host-local IPAM section allocating from ``subnets`` (one range set each) with state in ``ipam_dir``."""
        ipam: dict[str, Any] = {
            "type": "host-local",
            "dataDir": str(self.ipam_dir),
            "ranges": [[{"subnet": subnet}] for subnet in subnets],
        }
        ipam.update(extra)
        return ipam

    def allocated(self, network: str) -> list[str]:
        """The addresses host-local currently holds for ``network`` (its data dir has one file per address)."""
        directory = self.ipam_dir / network
        if not directory.is_dir():
            return []
        held = []
        for entry in directory.iterdir():
            try:
                held.append(ipaddress.ip_address(entry.name))
            except ValueError:
                continue  # lock and last_reserved_ip.* files
        return [str(address) for address in sorted(held, key=lambda a: (a.version, a))]

    def cached_results(self) -> list[str]:
        """Names of the attachment files in libcni's cache (``<network>-<containerID>-<ifname>``)."""
        results = self.cache_dir / "results"
        return sorted(p.name for p in results.iterdir()) if results.is_dir() else []

    def write_config(self, config: Mapping[str, Any], name: str | None = None) -> Path:
        """Write a configuration into the work dir; ``plugins`` in it makes it a ``.conflist``, else a ``.conf``.

        Without ``name``, equal configurations share one file, so an ADD and a later DEL given the same dict refer
        to the same attachment.
        """
        text = json.dumps(config, indent=2)
        if name is None:
            known = self._configs.get(text)
            if known is not None:
                return known
            suffix = ".conflist" if "plugins" in config else ".conf"
            name = f"net{len(self._configs) + 1}{suffix}"
        path = self.workdir / name
        path.write_text(text)
        self._configs[text] = path
        return path

    def run(
        self,
        command: DriverCommand,
        config: Mapping[str, Any] | Path,
        *,
        netns: NetNS | str | None = None,
        ifname: str = "eth0",
        container_id: str | None = None,
        args: Mapping[str, str] | None = None,
        capability_args: Mapping[str, Any] | None = None,
        cni_path: Sequence[Path | str] | None = None,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        """Run one libcni operation and return the driver's parsed JSON reply.

        :param config: a configuration (written to a file first) or the path of a ``.conflist``/``.conf`` file.
        :param netns: the container namespace (``NetNS`` or a path); ``None`` passes an empty ``CNI_NETNS``.
        :param args: ``CNI_ARGS`` pairs. :param capability_args: the runtime's capability arguments.
        :param cni_path: plugin search path; default :attr:`cni_path`.
        :returns: ``{"ok": true, "result": ...}`` or
            ``{"ok": false, "error": {"code", "msg", "details"}, "message": ...}``.
        :raises DriverError: if the driver itself failed.
        """
        path = config if isinstance(config, Path) else self.write_config(config)
        netns_path = netns.path if isinstance(netns, NetNS) else (netns or "")
        cid = self.container_id if container_id is None else container_id
        search = self.cni_path if cni_path is None else cni_path
        argv = [
            str(path),
            "--cache-dir",
            str(self.cache_dir),
            "--netns",
            netns_path,
            "--ifname",
            ifname,
            "--container-id",
            cid,
            "--cni-path",
            os.pathsep.join(str(p) for p in search),
            "--timeout",
            str(timeout),
        ]
        if args:
            argv += ["--args", ";".join(f"{key}={value}" for key, value in args.items())]
        if capability_args is not None:
            argv += ["--capability-args", json.dumps(capability_args)]

        key = (str(path), cid, ifname)
        if command == "add":
            # Remember before running: a failed ADD may still have left state behind that a DEL cleans up.
            self._attached[key] = argv
        reply = self._call(command, argv, timeout)
        if command == "del" and reply.get("ok") is True:
            self._attached.pop(key, None)
        return reply

    def _call(self, command: DriverCommand, argv: list[str], timeout: float) -> dict[str, Any]:
        proc = subprocess.run(
            [str(self.driver), command, *argv], capture_output=True, text=True, timeout=timeout + 30, check=False
        )
        self.last_stderr = proc.stderr
        if proc.stderr:
            # Shown by pytest in the report of a failing test.
            sys.stderr.write(f"[cni-driver {command}] {proc.stderr}")
        if proc.returncode != 0:
            raise DriverError(f"cni-driver {command} exited {proc.returncode}: {proc.stderr.strip()}")
        reply: dict[str, Any] = json.loads(proc.stdout)
        return reply

    def add(self, config: Mapping[str, Any] | Path, **kwargs: Any) -> dict[str, Any]:
        """``run("add", ...)``."""
        return self.run("add", config, **kwargs)

    def check(self, config: Mapping[str, Any] | Path, **kwargs: Any) -> dict[str, Any]:
        """``run("check", ...)``."""
        return self.run("check", config, **kwargs)

    def delete(self, config: Mapping[str, Any] | Path, **kwargs: Any) -> dict[str, Any]:
        """``run("del", ...)``."""
        return self.run("del", config, **kwargs)

    def version(self, config: Mapping[str, Any] | Path, **kwargs: Any) -> dict[str, Any]:
        """``run("version", ...)``: each plugin's VERSION reply, in list order, tagged with its ``type``."""
        return self.run("version", config, **kwargs)

    def validate(self, config: Mapping[str, Any] | Path, **kwargs: Any) -> dict[str, Any]:
        """``run("validate", ...)``: libcni's ValidateNetworkList (plugins exist and support the version)."""
        return self.run("validate", config, **kwargs)

    def cleanup(self) -> None:
        """DEL every attachment still registered (best effort: errors are ignored, links and namespaces go next)."""
        for argv in list(self._attached.values()):
            try:
                self._call("del", argv, 60.0)
            except (DriverError, subprocess.TimeoutExpired, json.JSONDecodeError):
                pass
        self._attached.clear()


def namespaces() -> Iterator[Callable[[], NetNS]]:
    """Yield a factory of fresh namespaces and delete all of them afterwards (the body of the netns fixtures)."""
    created: list[NetNS] = []

    def make() -> NetNS:
        ns = create_netns()
        created.append(ns)
        return ns

    try:
        yield make
    finally:
        for ns in reversed(created):
            delete_netns(ns)
