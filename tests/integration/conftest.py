"""Fixtures for integration tests under a real CNI runtime (libcni) in real network namespaces.

Fixture API (details in README.md):

* ``cni_driver`` (session): path of the built ``cni-driver``.
* ``cni``: a :class:`CNIRuntime` for this test (private libcni cache, host-local data dir and plugin dir).
* ``netns``: one fresh namespace; ``make_netns()``: more of them. All are deleted at teardown.
* ``host_links``: register host-side link names (``host_links.track(name)``) to delete at teardown.
* ``network_lease``: a 10.248.x.0/24 and bridge name no other test (or test session) uses at the same time.

Without root, ``ip``, Go, libcni's source or the reference plugins, every test here is skipped with the reason;
with ``CI=true`` it fails instead (tests/skip_policy.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .container_kit import build_bundles
from .harness import (
    HERE,
    CNIRuntime,
    DriverError,
    HostLinks,
    NetNS,
    NetworkLease,
    acquire_lease,
    build_driver,
    create_netns,
    delete_netns,
    missing_requirements,
    namespaces,
    reap_stale_netns,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test in this directory ``integration``, so ``-m "not integration"`` deselects all of them."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def integration_env() -> None:
    """Check once that this machine can run the integration tests; skip if not."""
    problems = missing_requirements()
    if not problems:
        # Root alone is not enough in some containers (no CAP_SYS_ADMIN): try it for real.
        try:
            delete_netns(create_netns())
        except RuntimeError as exc:
            problems.append(f"cannot create a network namespace: {exc}")
    if problems:
        pytest.skip("; ".join(problems))
    reap_stale_netns()


@pytest.fixture(scope="session")
def cni_driver(integration_env: None) -> Path:
    """The libcni test runtime, built once per session from ``driver/main.go``."""
    try:
        return build_driver()
    except DriverError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def host_links(integration_env: None) -> Iterator[HostLinks]:
    """Host-side links the test names; whichever exist at teardown are deleted."""
    links = HostLinks()
    yield links
    failed = links.cleanup()
    assert not failed, f"could not delete host links {failed}"


@pytest.fixture
def make_netns(integration_env: None) -> Iterator[Callable[[], NetNS]]:
    """Factory of uniquely named network namespaces, all deleted at teardown."""
    yield from namespaces()


@pytest.fixture
def netns(make_netns: Callable[[], NetNS]) -> NetNS:
    """A fresh network namespace (``netns.name``, ``netns.path``), deleted at teardown."""
    return make_netns()


@pytest.fixture
def network_lease(integration_env: None) -> Iterator[NetworkLease]:
    """A /24 in 10.248.0.0/16 with a bridge name, reserved across processes; the bridge is removed at teardown."""
    lease = acquire_lease()
    links = HostLinks([lease.bridge])
    try:
        yield lease
    finally:
        # Delete the bridge before giving the index back, or the next holder could lose its bridge.
        links.cleanup()
        lease.release()


@pytest.fixture
def cni(
    cni_driver: Path,
    tmp_path: Path,
    make_netns: Callable[[], NetNS],
    host_links: HostLinks,
    network_lease: NetworkLease,
) -> Iterator[CNIRuntime]:
    """A libcni runtime private to this test; DELs leftover attachments before namespaces and links go away.

    It depends on the namespace, link and lease fixtures only so that pytest tears it down before them.
    """
    runtime = CNIRuntime(cni_driver, tmp_path)
    try:
        yield runtime
    finally:
        runtime.cleanup()


@pytest.fixture(scope="session")
def bundles(integration_env: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Our veth and debug plugins bundled for a bare interpreter, once for every real-runtime test."""
    return build_bundles(tmp_path_factory.mktemp("bundles"))
