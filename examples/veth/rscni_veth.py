#!/usr/bin/env python3
"""rscni-veth: a point-to-point CNI plugin in pure Python on rscni-py (the topology of the reference ``ptp``).

It is an *interface* plugin, the first in a chain: ADD creates a veth pair between the host and the container's
network namespace (``CNI_NETNS``), names the container end ``CNI_IFNAME``, asks the configured IPAM plugin
(``ipam.type``, e.g. ``host-local``) for addresses, puts them and the IPAM routes into the namespace, adds a host
route to each container address, and records the attachment (``rscni_py.state``).  CHECK compares the
attachment with the cached result (``prevResult``), DEL removes the pair and its record and always releases the
IPAM allocation, GC removes the pairs of recorded attachments the runtime no longer lists and then runs IPAM's GC,
STATUS is forwarded to IPAM.

The kernel work is in :mod:`netops` (next to this file); this module is the CNI side: configuration, delegation
with rollback, the result, and the mapping of failures to CNI error codes (see README.md, "Errors").

Run it as ``python examples/veth/rscni_veth.py`` (a runtime runs it through a small wrapper named after its
``type``, see README.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from rscni_py import (
    CmdArgs,
    CNIError,
    CNIPlugin,
    ErrorCode,
    InvalidEnvironmentVariablesError,
    InvalidNetNSError,
    InvalidNetworkConfigError,
    IOFailureError,
    NetConf,
    PluginNotAvailableError,
    UnknownContainerError,
    invoke,
    override,
)
from rscni_py.paths import PathTextError, check_path_text
from rscni_py.state import (
    AttachmentKey,
    AttachmentStore,
    release_delegations,
    remove_stale_attachments,
    with_delegation,
)
from rscni_py.types import DNS, Interface, IPAMConf, IPConfig, Result, Route, json_field

try:  # imported as part of the repository (tests, a runtime with the repository on PYTHONPATH)
    from examples.veth import netops
except ImportError:  # run as a script next to netops.py: the script's directory is on sys.path
    import netops  # type: ignore[import-not-found,no-redef]

__all__ = [
    "CHECK_FAILED",
    "DEFAULT_STATE_DIR",
    "KERNEL_ERROR",
    "LINK_EXISTS",
    "LOCK_TIMEOUT",
    "VethConf",
    "VethPlugin",
    "cni_error",
]

_log = logging.getLogger("rscni_veth")

#: Where attachments are recorded by default.  A directory of this plugin's own, not the SDK's shared default
#: (``/var/lib/cni/rscni-py``): two rscni-py plugins in one chain see the same network name, container ID and
#: interface, and would otherwise overwrite each other's records.
DEFAULT_STATE_DIR: Final = "/var/lib/cni/rscni-veth"

#: Seconds to wait for the attachment store's lock before answering code 11 (try again later).
LOCK_TIMEOUT: Final = 10.0

#: Plugin-specific CNI error codes (the spec leaves 100 and up to plugins); README.md, "Errors", lists them all.
LINK_EXISTS: Final = 100
"""ADD: the host end's name or ``CNI_IFNAME`` inside the namespace is already taken (nothing was created)."""
KERNEL_ERROR: Final = 101
"""The kernel refused a netlink request, or a namespace could not be used; ``details`` has the errno."""
CHECK_FAILED: Final = 102
"""CHECK: the attachment differs from the cached result; the message lists every difference."""

# netops names the CNI_* inputs by its own parameter names; an invalid one is the runtime's fault (code 4).
_ENV_FIELDS: Final[Mapping[str, str]] = {
    "container_id": "CNI_CONTAINERID",
    "ifname": "CNI_IFNAME",
    "netns": "CNI_NETNS",
}


@dataclass(kw_only=True)
class VethConf(NetConf):
    """The plugin's network configuration: the well-known keys plus ``mtu``; ``ipam`` is required.

    ``ipam`` is handed unchanged to the IPAM plugin named by ``ipam.type`` (the whole configuration is, as the
    spec asks for delegation).  ``mtu`` sets both ends of the pair (default: the kernel's 1500).  ``dns`` is the
    well-known key; it is returned when the IPAM result has no DNS settings of its own.  ``stateDir`` is where the
    plugin records its attachments, one directory per network (for GC).
    """

    ipam: IPAMConf = json_field()
    mtu: int | None = json_field(default=None, omit="none")
    state_dir: str = json_field("stateDir", default=DEFAULT_STATE_DIR)

    @override
    def validate(self) -> None:
        """The checks the codec cannot express; each names its key (code 7). The SDK runs them once per command."""
        if not self.ipam.type:
            raise InvalidNetworkConfigError("invalid network config: ipam.type: required field missing")
        if self.mtu is not None and not netops.MIN_MTU <= self.mtu <= netops.MAX_MTU:
            raise InvalidNetworkConfigError(
                f"invalid network config: mtu: {self.mtu} is outside {netops.MIN_MTU}..{netops.MAX_MTU}"
            )
        try:
            check_path_text(self.state_dir)
        except PathTextError as exc:
            raise InvalidNetworkConfigError(f"invalid network config: stateDir: the path {exc.reason}") from None
        if not os.path.isabs(self.state_dir):
            raise InvalidNetworkConfigError(
                f"invalid network config: stateDir: expected an absolute directory path, got {self.state_dir!r}"
            )

    def store(self) -> AttachmentStore:
        """This network's attachment records (``<stateDir>/<name>/``)."""
        return AttachmentStore(self.name, root=self.state_dir)


def cni_error(exc: netops.NetOpsError, *, command: str) -> CNIError:
    """The CNI error for a failure of the netlink layer (the table in README.md, "Errors").

    * invalid input: a CNI_* value (``container_id``, ``ifname``, ``netns``) is code 4; anything else is code 7:
      on ADD an IPAM result netops cannot set up (e.g. two routes to one destination with different gateways, an
      MTU too small for its IPv6 addresses), on CHECK such a ``prevResult``;
    * the namespace does not exist: code 3 (unknown container); the path is not a network namespace: code 8;
    * an interface name is taken: :data:`LINK_EXISTS`; CHECK differences: :data:`CHECK_FAILED`;
    * the kernel refused a request (or anything else netops reports): :data:`KERNEL_ERROR`.
    """
    if isinstance(exc, netops.InvalidArgument):
        name = str(exc).partition(":")[0]
        variable = _ENV_FIELDS.get(name)
        if variable is not None:
            return InvalidEnvironmentVariablesError(f"{variable}{str(exc)[len(name) :]}")
        source = "prevResult" if command == "CHECK" else "IPAM result"
        return InvalidNetworkConfigError(f"invalid {source}: {exc}")
    if isinstance(exc, netops.NetnsNotFound):
        return UnknownContainerError(str(exc), exc.netns)
    if isinstance(exc, netops.NotANetns):
        return InvalidNetNSError(str(exc), exc.netns)
    if isinstance(exc, netops.LinkExists):
        return CNIError(LINK_EXISTS, str(exc), f"{command} needs interface {exc.ifname}; it is in use in {exc.where}")
    if isinstance(exc, netops.CheckFailed):
        return CNIError(CHECK_FAILED, f"attachment differs from the cached result: {exc}")
    if isinstance(exc, netops.NetlinkOperationFailed):
        return CNIError(KERNEL_ERROR, str(exc), f"errno {exc.errno}")
    return CNIError(KERNEL_ERROR, str(exc))


def _veth_config(
    args: CmdArgs[VethConf],
    ips: list[IPConfig],
    routes: list[Route],
) -> netops.VethConfig:
    """What netops needs, from the CNI_* values, the configuration and an IPAM result (or a cached result)."""
    return netops.VethConfig(
        container_id=args.container_id,
        ifname=args.ifname,
        netns=args.netns,
        addresses=tuple(netops.AddressSpec(ip.address, ip.gateway) for ip in ips),
        # Only dst and gw are applied; the 1.1.0 route attributes (mtu, table, scope, ...) are not supported.
        routes=tuple(netops.RouteSpec(route.dst.network, route.gw) for route in routes),
        mtu=args.config.mtu,
    )


class VethPlugin(CNIPlugin[VethConf]):
    """The point-to-point plugin: a veth pair per attachment, addresses from the configured IPAM plugin."""

    about = "rscni-veth: point-to-point veth plugin on rscni-py"

    @override
    def add(self, args: CmdArgs[VethConf]) -> Result:
        """ADD: record the intent, allocate through IPAM, build the pair; a failure undoes what this ADD did.

        A repeated ADD of a live attachment is refused before anything changes (README.md, "Attachment records").
        """
        try:
            # Before anything is allocated, and without blocking: a FIFO here must not hang us after IPAM ran.
            netops.check_netns(args.netns)
        except netops.NetOpsError as exc:
            raise cni_error(exc, command="ADD") from exc
        took_over = _begin(args)
        try:
            return self._attach(args)
        except BaseException as exc:
            _abandon(args, exc, took_over=took_over)
            raise

    def _attach(self, args: CmdArgs[VethConf]) -> Result:
        config = args.config
        with invoke.add_with_rollback(config.ipam.type, args.stdin_data) as ipam:
            if not ipam.ips:
                raise InvalidNetworkConfigError(
                    f"IPAM plugin {config.ipam.type} returned no IP addresses", "ipam: the result has no ips"
                )
            try:
                attachment = netops.setup(_veth_config(args, ipam.ips, ipam.routes))
            except netops.NetOpsError as exc:
                raise cni_error(exc, command="ADD") from exc
            _record(args)
            _log.info("attached %s in %s to host end %s", args.ifname, args.netns, attachment.host.name)
            return Result(
                interfaces=[
                    Interface(name=attachment.host.name, mac=attachment.host.mac),
                    Interface(
                        name=attachment.container.name,
                        mac=attachment.container.mac,
                        mtu=attachment.mtu,
                        sandbox=args.netns,
                    ),
                ],
                # Index 1 is the container end: the addresses live there, not on the host end.
                ips=[IPConfig(address=ip.address, gateway=ip.gateway, interface=1) for ip in ipam.ips],
                routes=_result_routes(attachment, ipam.routes),
                dns=ipam.dns if not ipam.dns.is_empty() else (config.dns or DNS()),
            )

    @override
    def delete(self, args: CmdArgs[VethConf]) -> None:
        """DEL: remove the pair and its record if they are there, then always release the IPAM allocation.

        Nothing found (namespace or pair already gone, ADD never ran) is success.  A teardown failure does not
        stop the IPAM DEL: the address is released either way, and every error is reported.
        """
        config = args.config
        teardown_error: CNIError | None = None
        try:
            removed = netops.teardown(args.container_id, args.ifname)
            _log.info("DEL %s: veth pair %s", args.ifname, "removed" if removed else "already gone")
        except netops.NetOpsError as exc:
            teardown_error = cni_error(exc, command="DEL")
        else:
            # The record goes only with the pair: if teardown failed, GC can still find the pair through it.
            try:
                with _locked_store(config) as store:
                    store.delete(args.container_id, args.ifname)
            except CNIError as exc:
                teardown_error = exc
        try:
            invoke.delegate_delete(config.ipam.type, args.stdin_data)
        except CNIError as ipam_error:
            if teardown_error is None:
                raise
            raise CNIError(
                teardown_error.code,
                teardown_error.msg,
                f"IPAM plugin {config.ipam.type} DEL failed too: {ipam_error}",
            ) from ipam_error
        if teardown_error is not None:
            raise teardown_error

    @override
    def check(self, args: CmdArgs[VethConf]) -> None:
        """CHECK: IPAM's CHECK, then the pair, addresses and routes against the cached result (``prevResult``)."""
        config = args.config
        prev = args.prev_result
        if prev is None:
            raise InvalidNetworkConfigError("invalid network config: prevResult: required for CHECK")
        index, mac = _container_interface(prev, args)
        invoke.delegate_check(config.ipam.type, args.stdin_data)
        ips = [ip for ip in prev.ips if ip.interface == index]
        try:
            netops.check(_veth_config(args, ips, prev.routes), container_mac=mac or None)
        except netops.NetOpsError as exc:
            raise cni_error(exc, command="CHECK") from exc

    @override
    def status(self, args: CmdArgs[VethConf]) -> None:
        """STATUS: this plugin is ready whenever its IPAM plugin is.

        IPAM's 50/51 are passed on; any other failure of IPAM's STATUS (an IPAM plugin too old to know STATUS
        answers with an error of its own) means we cannot serve ADD either, which the spec calls code 50.
        """
        try:
            invoke.delegate_status(args.config.ipam.type, args.stdin_data)
        except CNIError as err:
            if err.code in (ErrorCode.PLUGIN_NOT_AVAILABLE, ErrorCode.LIMITED_CONNECTIVITY):
                raise
            raise PluginNotAvailableError(
                f"IPAM plugin {args.config.ipam.type} is not available",
                f"its STATUS failed with code {err.code}: {err}",
            ) from err

    @override
    def gc(self, args: CmdArgs[VethConf]) -> None:
        """GC: for each recorded attachment not in ``cni.dev/valid-attachments``, remove its pair and release its
        address (IPAM DEL with the attachment's own IDs and recorded configuration), then run IPAM's GC.

        IPAM's GC runs even when some attachments could not be collected; the first error is reported, the other
        in its details.
        """
        config = args.config
        gc_error: CNIError | None = None
        store = config.store()

        def collect(key: AttachmentKey, record: dict[str, object] | None) -> None:
            _remove_pair(key, record)
            # IPAM's own GC may do nothing (host-local): release each stale attachment's address here.
            release_delegations(key, record)

        try:
            report = remove_stale_attachments(store, config.valid_attachments, collect, lock_timeout=LOCK_TIMEOUT)
            if report.removed:
                _log.info("GC removed %s", ", ".join(f"{k.container_id}/{k.ifname}" for k in report.removed))
            report.raise_for_errors()
        except CNIError as exc:
            gc_error = exc
        except OSError as exc:
            gc_error = _state_io_error(store, exc)
        try:
            invoke.delegate_gc(config.ipam.type, args.stdin_data)
        except CNIError as ipam_error:
            if gc_error is None:
                raise
            details = f"IPAM plugin {config.ipam.type} GC failed too: {ipam_error}"
            raise CNIError(gc_error.code, gc_error.msg, "; ".join(filter(None, [gc_error.details, details]))) from None
        if gc_error is not None:
            raise gc_error


@contextmanager
def _locked_store(config: VethConf) -> Iterator[AttachmentStore]:
    """The network's attachment store under its lock; an I/O failure in it is code 5 naming the directory."""
    store = config.store()
    try:
        with store.lock(timeout=LOCK_TIMEOUT):
            yield store
    except OSError as exc:
        raise _state_io_error(store, exc) from exc


def _state_io_error(store: AttachmentStore, exc: OSError) -> CNIError:
    return IOFailureError(f"stateDir: cannot use {store.directory}: {exc.strerror or exc}")


def _document(args: CmdArgs[VethConf], phase: str) -> dict[str, object]:
    """The attachment's record: its phase, the host end, the namespace, and the IPAM delegation to undo."""
    document = {"phase": phase, "hostIfname": netops.host_ifname(args.container_id, args.ifname), "netns": args.netns}
    return with_delegation(document, args.config.ipam.type, args.stdin_data)


def _begin(args: CmdArgs[VethConf]) -> bool:
    """Refuse a repeated ADD of a live attachment; otherwise record the intent before anything is created.

    The record exists from here on, so DEL and GC find whatever this ADD leaves if it is killed part-way.  A
    record still in phase "adding" is what an interrupted ADD left; a new ADD takes it over (returns True).
    """
    with _locked_store(args.config) as store:
        existing = store.get(args.container_id, args.ifname)
        if existing is not None and existing.get("phase") != "adding":
            raise CNIError(
                LINK_EXISTS,
                f"attachment {args.container_id}/{args.ifname} already exists",
                "a repeated ADD changes nothing; DEL the attachment first",
            )
        store.put(args.container_id, args.ifname, _document(args, "adding"))
    return existing is not None


def _abandon(args: CmdArgs[VethConf], failure: BaseException, *, took_over: bool) -> None:
    """After a failed ADD: forget the intent, unless something may be left for DEL or GC to release.

    Kept: a record taken over from an interrupted ADD (what that ADD allocated is still held; IPAM refuses the
    new ADD as a duplicate), and a record whose rollback added a note to the error (it may have left something).
    """
    if took_over or getattr(failure, "__notes__", None):
        _log.warning("ADD failed and may have left something; keeping the record for DEL and GC")
        return
    try:
        with _locked_store(args.config) as store:
            store.delete(args.container_id, args.ifname)
    except CNIError as exc:
        _log.warning("could not remove the record of the failed ADD: %s", exc)


def _record(args: CmdArgs[VethConf]) -> None:
    """Mark the attachment complete; if that fails, remove the pair again before the error propagates."""
    try:
        with _locked_store(args.config) as store:
            store.put(args.container_id, args.ifname, _document(args, "added"))
    except BaseException:
        try:
            netops.teardown(args.container_id, args.ifname)
        except netops.NetOpsError as cleanup_exc:
            _log.warning("could not remove the pair after failing to record it: %s", cleanup_exc)
        raise


def _remove_pair(key: AttachmentKey, record: dict[str, object] | None) -> None:
    """GC's cleanup of one stale attachment: its pair (found from the key, so also without a readable record)."""
    del record
    try:
        netops.teardown(key.container_id, key.ifname)
    except netops.NetOpsError as exc:
        raise cni_error(exc, command="GC") from exc


def _result_routes(attachment: netops.VethAttachment, requested: list[Route]) -> list[Route]:
    """The IPAM routes as installed: each with the gateway netops resolved for it (same order, same dst)."""
    return [Route(dst=route.dst, gw=spec.gateway) for route, spec in zip(requested, attachment.routes, strict=True)]


def _container_interface(prev: Result, args: CmdArgs[VethConf]) -> tuple[int, str]:
    """Index and MAC of this attachment's container interface in the cached result.

    :raises CNIError: :data:`CHECK_FAILED` when the cached result has no interface ``CNI_IFNAME`` in ``CNI_NETNS``.
    """
    for index, interface in enumerate(prev.interfaces):
        if interface.name == args.ifname and interface.sandbox == args.netns:
            return index, interface.mac
    raise CNIError(
        CHECK_FAILED,
        f"prevResult has no interface {args.ifname} in {args.netns}",
        "CHECK compares the attachment with the cached result of its ADD",
    )


if __name__ == "__main__":
    VethPlugin.run()
