"""A local CNI runtime: run a network configuration list's plugin chain the way libcni does.

Load a configuration with :func:`load_conflist` (a ``.conflist``, a single ``.conf``, or the first file of a
directory), then run it with a :class:`Runtime`::

    from rscni_py.runtime import Runtime, RuntimeConf, load_conflist

    netconf = load_conflist("/etc/cni/net.d/10-mynet.conflist")
    runtime = Runtime(["/opt/cni/bin"], cache_dir="/tmp/cni-cache")
    rt = RuntimeConf(container_id="c1", netns="/var/run/netns/c1", ifname="eth0")
    result = runtime.add(netconf, rt)
    runtime.check(netconf, rt)
    runtime.delete(netconf, rt)

The console script ``rscni-py exec add|check|del|gc|status`` is the same on the command line. See
``docs/runtime.md``.
"""

from __future__ import annotations

from rscni_py.runtime.cache import CACHE_KIND, CachedAttachment, CacheError, ResultCache, default_cache_dir
from rscni_py.runtime.chain import PluginFailedError, Runtime, RuntimeConf
from rscni_py.runtime.config import (
    CONFIG_EXTENSIONS,
    NetworkConfigList,
    conflist_from_bytes,
    conflist_from_json,
    load_conflist,
)

__all__ = [
    "CACHE_KIND",
    "CONFIG_EXTENSIONS",
    "CacheError",
    "CachedAttachment",
    "NetworkConfigList",
    "PluginFailedError",
    "ResultCache",
    "Runtime",
    "RuntimeConf",
    "conflist_from_bytes",
    "conflist_from_json",
    "default_cache_dir",
    "load_conflist",
]
