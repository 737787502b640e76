#!/usr/bin/env python3
"""``make demo``: the reference debug plugin through ADD, CHECK and DEL, run by rscni-py's local runtime.

Without root the chain is Debian's ``static`` IPAM plugin (when installed; it needs no namespace) followed by the
debug plugin, so the debug plugin's records show a real ``prevResult``. As root, and only if the veth example
plugin exists (``examples/veth`` with a plugin script and ``netconf.conflist``), the veth chain also runs in a fresh
network namespace and the container's address is shown. Everything happens in a temporary directory that is removed
at the end.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from rscni_py.errors import CNIError  # noqa: E402
from rscni_py.runtime import Runtime, RuntimeConf, conflist_from_json  # noqa: E402

DEBUG_SCRIPT = ROOT / "examples" / "debug" / "rscni_debug.py"
VETH_DIR = ROOT / "examples" / "veth"
SYSTEM_CNI_PATH = ["/usr/lib/cni", "/opt/cni/bin"]
STATIC = Path("/usr/lib/cni/static")


def install(bin_dir: Path, name: str, script: Path) -> None:
    """Install a Python plugin as an executable named ``name``, the way a runtime expects to find it."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / name
    wrapper.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH={shlex.quote(str(ROOT))}${{PYTHONPATH:+:$PYTHONPATH}}; export PYTHONPATH\n"
        f'exec {shlex.quote(sys.executable)} {shlex.quote(str(script))} "$@"\n'
    )
    wrapper.chmod(0o755)


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
        plugins.append({
            "type": "static",
            "ipam": {"type": "static", "addresses": [{"address": "10.22.0.5/24", "gateway": "10.22.0.1"}],
                     "routes": [{"dst": "0.0.0.0/0"}]},
        })
    plugins.append({"type": "rscni-debug", "cniOutput": str(records)})
    netconf = conflist_from_json({"cniVersion": "1.0.0", "name": "demo", "plugins": plugins})
    runtime = Runtime([str(bin_dir), *SYSTEM_CNI_PATH], cache_dir=work / "cache")
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


def find_veth() -> tuple[Path, Path] | str:
    """The veth example's plugin script and conflist, or why the veth part is skipped."""
    if not VETH_DIR.is_dir():
        return "examples/veth does not exist"
    conf = VETH_DIR / "netconf.conflist"
    scripts = [p for p in sorted(VETH_DIR.glob("*.py")) if "__main__" in p.read_text() and ".run()" in p.read_text()]
    if not scripts or not conf.exists():
        return "examples/veth has no plugin script with netconf.conflist yet"
    return scripts[0], conf


def veth_demo(work: Path) -> None:
    print("\n== veth plugin in a fresh network namespace")
    if os.geteuid() != 0:
        print("  skipped: needs root")
        return
    found = find_veth()
    if isinstance(found, str):
        print(f"  skipped: {found}")
        return
    script, conf_path = found
    data = json.loads(conf_path.read_text())
    bin_dir = work / "veth-bin"
    for plugin in data["plugins"]:
        ipam = plugin.get("ipam")
        if isinstance(ipam, dict) and ipam.get("type") == "host-local":
            ipam["dataDir"] = str(work / "ipam")  # keep address leases inside the demo's directory
    install(bin_dir, str(data["plugins"][0]["type"]), script)
    netconf = conflist_from_json(data)
    runtime = Runtime([str(bin_dir), *SYSTEM_CNI_PATH], cache_dir=work / "cache")
    netns_name = f"rscni-demo-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", netns_name], check=True)
    try:
        rt = RuntimeConf(container_id=netns_name, ifname="eth0", netns=f"/var/run/netns/{netns_name}")
        result = runtime.add(netconf, rt).convert("1.1.0").to_dict()
        print(f"  ADD: container addresses {[ip['address'] for ip in result.get('ips', [])]}")
        shown = subprocess.run(["ip", "-n", netns_name, "-brief", "address", "show", "dev", "eth0"],
                               capture_output=True, text=True, check=False)
        print(f"  inside the namespace: {shown.stdout.strip() or shown.stderr.strip()}")
        runtime.check(netconf, rt)
        print("  CHECK: ok")
        runtime.delete(netconf, rt)
        print("  DEL: ok")
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
