#!/usr/bin/env python3
"""``make demo``: the reference debug plugin through ADD, CHECK and DEL, run by rscni-py's local runtime.

Without root the chain is Debian's ``static`` IPAM plugin (when installed; it needs no namespace) followed by the
debug plugin, so the debug plugin's records show a real ``prevResult``. As root, and only if the veth example plugin
exists (a plugin script in ``examples/veth``), the veth plugin also runs in a fresh network namespace and the
container's address is shown; its configuration is the example's ``netconf.conflist`` when it has one, else the
plugin alone with ``host-local`` addresses from 10.249.250.0/24. Everything happens in a temporary directory that is
removed at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from rscni_py.errors import CNIError  # noqa: E402
from rscni_py.runtime import Runtime, RuntimeConf, conflist_from_json  # noqa: E402
from rscni_py.testing import install_script  # noqa: E402

DEBUG_SCRIPT = ROOT / "examples" / "debug" / "rscni_debug.py"
VETH_DIR = ROOT / "examples" / "veth"
SYSTEM_CNI_PATH = ["/usr/lib/cni", "/opt/cni/bin"]
STATIC = Path("/usr/lib/cni/static")
#: Seconds any plugin may take before the demo gives up on it (a hung plugin must not hang ``make demo``).
PLUGIN_TIMEOUT = 60.0
#: Addresses for the veth part when the example ships no configuration of its own.
DEMO_SUBNET = "10.249.250.0/24"


def install(bin_dir: Path, name: str, script: Path) -> None:
    """Install a Python plugin as an executable named ``name``, the way a runtime expects to find it."""
    install_script(bin_dir, name, script, pythonpath=[ROOT])


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.rstrip("\n").splitlines())


def show_record(path: Path) -> None:
    print(f"  the debug plugin's record {path.name}:")
    print(indent(path.read_text(), "    | "))


def show_prev_result(path: Path) -> None:
    """One line per record: which command the debug plugin saw and the prevResult the runtime gave it."""
    text = path.read_text()
    stdin = json.loads(text.split("STDIN_DATA: ", 1)[1].rsplit("\n--------------------", 1)[0])
    command = text.splitlines()[0]
    print(f"  record {path.name}: {command}, prevResult {json.dumps(stdin.get('prevResult'))}")


def debug_demo(work: Path) -> None:
    bin_dir, records = work / "bin", work / "records"
    install(bin_dir, "rscni-debug", DEBUG_SCRIPT)
    plugins: list[dict[str, Any]] = []
    if STATIC.exists():
        plugins.append(
            {
                "type": "static",
                "ipam": {
                    "type": "static",
                    "addresses": [{"address": "10.22.0.5/24", "gateway": "10.22.0.1"}],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            }
        )
    plugins.append({"type": "rscni-debug", "cniOutput": str(records)})
    netconf = conflist_from_json({"cniVersion": "1.0.0", "name": "demo", "plugins": plugins})
    runtime = Runtime([str(bin_dir), *SYSTEM_CNI_PATH], cache_dir=work / "cache", timeout=PLUGIN_TIMEOUT)
    rt = RuntimeConf(container_id="demo-1", ifname="eth0", netns="/var/run/netns/demo-1")

    chain = " -> ".join(str(p["type"]) for p in plugins)
    print(f'network "{netconf.name}" (cniVersion {netconf.cni_version}): {chain}')
    if not STATIC.exists():
        print("  (Debian's static plugin is not installed: the debug plugin runs alone)")
    print(f"container {rt.container_id}, interface {rt.ifname}, netns {rt.netns} (only passed on, never entered)\n")

    print("== ADD")
    result = runtime.add(netconf, rt)
    print("  result:")
    print(indent(json.dumps(result.to_dict())))
    show_record(records / "demo-1-Add")

    print("\n== CHECK (prevResult comes from the runtime's cache)")
    runtime.check(netconf, rt)
    show_prev_result(records / "demo-1-Check")

    print("\n== DEL (plugins in reverse order, prevResult from the cache)")
    runtime.delete(netconf, rt)
    show_prev_result(records / "demo-1-Del")
    print(f"  cache entry gone: {runtime.cache.load(netconf.name, rt.container_id, rt.ifname) is None}")


def find_veth() -> tuple[Path, dict[str, Any]] | str:
    """The veth example's plugin script and its configuration list, or why the veth part is skipped.

    The configuration is ``examples/veth/netconf.conflist`` when there is one, else the plugin alone with
    ``host-local`` addresses from a demo subnet.
    """
    if not VETH_DIR.is_dir():
        return "examples/veth does not exist"
    scripts = [p for p in sorted(VETH_DIR.glob("*.py")) if "__main__" in p.read_text() and ".run()" in p.read_text()]
    if not scripts:
        return "examples/veth has no plugin script yet"
    script = scripts[0]
    conf = VETH_DIR / "netconf.conflist"
    if conf.exists():
        data: dict[str, Any] = json.loads(conf.read_text())
    else:
        data = {
            "cniVersion": "1.0.0",
            "name": "rscni-demo-veth",
            "plugins": [
                {
                    "type": script.stem.replace("_", "-"),
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": DEMO_SUBNET}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                    },
                }
            ],
        }
    return script, data


def veth_demo(work: Path) -> None:
    print("\n== veth plugin in a fresh network namespace")
    if os.geteuid() != 0:
        print("  skipped: needs root")
        return
    found = find_veth()
    if isinstance(found, str):
        print(f"  skipped: {found}")
        return
    script, data = found
    needed = {str(p["type"]) for p in data["plugins"][1:]} | {
        str(p["ipam"]["type"]) for p in data["plugins"] if isinstance(p.get("ipam"), dict)
    }
    missing = sorted(n for n in needed if not any((Path(d) / n).is_file() for d in SYSTEM_CNI_PATH))
    if missing:
        print(f"  skipped: reference plugins not installed: {', '.join(missing)} (Debian: containernetworking-plugins)")
        return
    bin_dir = work / "veth-bin"
    for plugin in data["plugins"]:
        ipam = plugin.get("ipam")
        if isinstance(ipam, dict) and ipam.get("type") == "host-local":
            ipam["dataDir"] = str(work / "ipam")  # keep address leases inside the demo's directory
    install(bin_dir, str(data["plugins"][0]["type"]), script)
    netconf = conflist_from_json(data)
    runtime = Runtime([str(bin_dir), *SYSTEM_CNI_PATH], cache_dir=work / "cache", timeout=PLUGIN_TIMEOUT)
    netns_name = f"rscni-demo-{os.getpid()}"
    chain = " -> ".join(str(p["type"]) for p in netconf.plugins)
    print(f'  network "{netconf.name}" (cniVersion {netconf.cni_version}): {chain}, namespace {netns_name}')
    subprocess.run(["ip", "netns", "add", netns_name], check=True)
    try:
        rt = RuntimeConf(container_id=netns_name, ifname="eth0", netns=f"/var/run/netns/{netns_name}")
        result = runtime.add(netconf, rt).convert("1.1.0").to_dict()
        print(f"  ADD: the result's addresses: {', '.join(ip['address'] for ip in result.get('ips', []))}")
        shown = subprocess.run(
            ["ip", "-n", netns_name, "-brief", "address", "show", "dev", "eth0"],
            capture_output=True,
            text=True,
            check=False,
        )
        print(f"  inside the namespace: {' '.join((shown.stdout or shown.stderr).split())}")
        runtime.check(netconf, rt)
        print("  CHECK: ok")
        runtime.delete(netconf, rt)
        gone = subprocess.run(["ip", "-n", netns_name, "link", "show", "dev", "eth0"], capture_output=True, check=False)
        print(f"  DEL: ok, eth0 {'removed' if gone.returncode != 0 else 'still there'}")
    finally:
        subprocess.run(["ip", "netns", "delete", netns_name], check=False)


def main() -> int:
    print("rscni-py demo: the reference debug plugin, run by the local runtime (rscni_py.runtime)\n")
    with tempfile.TemporaryDirectory(prefix="rscni-demo-") as tmp:
        work = Path(tmp)
        try:
            debug_demo(work)
            veth_demo(work)
        except CNIError as err:
            print(f"\nfailed: {json.dumps(err.to_dict())}")
            return 1
    print("\ndone; the temporary directory was removed.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
