#!/usr/bin/env python3
"""Cost of one plugin invocation: wall time and peak RSS, against Python floors and a Go reference plugin.

Each case is a whole process, started the way a runtime starts a plugin, run many times after a warm-up; the
figures are the median and the min-max of wall time (ms) and of the child's peak RSS (MiB, from ``wait4``).
Cases:

* floors: ``python -I -c pass``; ``python -I -c "import dataclasses, typing, json"`` (what any typed plugin module
  costs before our code); ``python -I -c "import dataclasses_json"`` (the model library);
* the debug plugin (examples/debug) as a script in the virtual environment and as a one-file bundle: VERSION,
  ADD with a 1.0.0 prevResult, DEL;
* Go's host-local from /usr/lib/cni: VERSION;
* as root, with the libcni driver built: a bridge + host-local chain ADD+DEL through libcni, with and without our
  debug plugin appended.

Targets are printed as ratios; nothing here asserts them.  Usage: ``python benchmarks/run.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEBUG_PLUGIN = ROOT / "examples" / "debug" / "rscni_debug.py"
GO_PLUGIN_DIR = Path("/usr/lib/cni")
DRIVER = ROOT / "tests" / "integration" / ".build" / "cni-driver"
ATTACH = {"CNI_CONTAINERID": "bench1", "CNI_NETNS": "/var/run/netns/bench", "CNI_IFNAME": "eth0", "CNI_PATH": str(GO_PLUGIN_DIR)}
PREV_RESULT = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "eth0", "mac": "aa:bb:cc:dd:ee:ff", "sandbox": "/var/run/netns/bench"}],
    "ips": [{"interface": 0, "address": "10.10.0.5/24", "gateway": "10.10.0.1"}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.10.0.1"}],
    "dns": {"nameservers": ["10.10.0.1"]},
}


@dataclass
class Stats:
    name: str
    wall_ms: list[float]
    rss_mib: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.wall_ms)

    def row(self) -> str:
        return (
            f"| {self.name} | {self.median_ms:.1f} | {min(self.wall_ms):.1f}-{max(self.wall_ms):.1f} "
            f"| {statistics.median(self.rss_mib):.1f} | {min(self.rss_mib):.1f}-{max(self.rss_mib):.1f} |"
        )


def measure(name: str, argv: list[str], *, env: dict[str, str], stdin: bytes, runs: int, warmup: int) -> Stats:
    """Run ``argv`` ``warmup + runs`` times; keep wall time and peak RSS of the measured runs."""
    with tempfile.TemporaryFile() as feed:
        feed.write(stdin)
        wall: list[float] = []
        rss: list[float] = []
        for index in range(warmup + runs):
            feed.seek(0)
            start = time.perf_counter()
            proc = subprocess.Popen(argv, env=env, stdin=feed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = (time.perf_counter() - start) * 1000
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"{name}: exited with {proc.returncode}: {argv}")
            if index >= warmup:
                wall.append(elapsed)
                rss.append(usage.ru_maxrss / 1024)
    return Stats(name, wall, rss)


def build_bundle(python: str, workdir: Path) -> Path:
    from rscni_py._private.bundle import bundle

    return bundle(DEBUG_PLUGIN, workdir / "rscni-debug.pyz", python=python)


def chain_cases(workdir: Path, python: str, runs: int, warmup: int) -> list[Stats]:
    """libcni (our Go driver) running bridge + host-local, with and without the debug plugin after them."""
    if os.geteuid() != 0 or not DRIVER.exists():
        print(f"(skipping the libcni chain: needs root and {DRIVER}; build it with tests/integration/build_driver.sh)")
        return []
    plugin_dir = workdir / "bin"
    plugin_dir.mkdir()
    wrapper = plugin_dir / "rscni-debug"
    wrapper.write_text(f"#!/bin/sh\nexec {python} -I {DEBUG_PLUGIN} \"$@\"\n")
    wrapper.chmod(0o755)
    netns = "rscni-bench"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    out: list[Stats] = []
    try:
        base = [
            {"type": "bridge", "bridge": "rscni-bench0", "isGateway": True,
             "ipam": {"type": "host-local", "subnet": "10.247.0.0/24", "dataDir": str(workdir / "ipam")}},
        ]
        for label, plugins in (("chain without our plugin", base), ("chain with the debug plugin", [*base, {"type": "rscni-debug", "cniOutput": str(workdir / "out")}])):
            (workdir / "out").mkdir(exist_ok=True)
            conflist = workdir / f"{len(plugins)}.conflist"
            conflist.write_text(json.dumps({"cniVersion": "1.0.0", "name": "bench", "plugins": plugins}))
            script = workdir / f"cycle{len(plugins)}.sh"
            common = f"--cache-dir {workdir / 'cache'} --netns /var/run/netns/{netns} --ifname eth0 --container-id bench1 --cni-path {plugin_dir}:{GO_PLUGIN_DIR}"
            script.write_text(f"#!/bin/sh\n{DRIVER} add {conflist} {common} >/dev/null && {DRIVER} del {conflist} {common} >/dev/null\n")
            script.chmod(0o755)
            out.append(measure(f"libcni {label}: ADD+DEL", [str(script)], env={"PATH": os.environ["PATH"]}, stdin=b"", runs=runs, warmup=warmup))
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)
        subprocess.run(["ip", "link", "del", "rscni-bench0"], check=False, stderr=subprocess.DEVNULL)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--python", default=sys.executable, help="the venv interpreter the plugin runs with")
    ns = parser.parse_args()
    python = ns.python
    runs, warmup = ns.runs, ns.warmup
    plain = {"PATH": os.environ["PATH"]}
    config_add = {"cniVersion": "1.0.0", "name": "bench", "type": "rscni-debug", "prevResult": PREV_RESULT}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        config_add["cniOutput"] = str(workdir / "records")
        (workdir / "records").mkdir()
        add_stdin = json.dumps(config_add).encode()
        bundle_file = build_bundle(python, workdir)

        def plugin_cases(label: str, argv: list[str]) -> list[Stats]:
            return [
                measure(f"{label}: VERSION", argv, env={**plain, "CNI_COMMAND": "VERSION"}, stdin=b"", runs=runs, warmup=warmup),
                measure(f"{label}: ADD (1.0.0 prevResult)", argv, env={**plain, **ATTACH, "CNI_COMMAND": "ADD"}, stdin=add_stdin, runs=runs, warmup=warmup),
                measure(f"{label}: DEL", argv, env={**plain, **ATTACH, "CNI_COMMAND": "DEL"}, stdin=add_stdin, runs=runs, warmup=warmup),
            ]

        floors = [
            measure("floor: python -I -c pass", [python, "-I", "-c", "pass"], env=plain, stdin=b"", runs=runs, warmup=warmup),
            measure("typed floor: import dataclasses, typing, json", [python, "-I", "-c", "import dataclasses, typing, json"], env=plain, stdin=b"", runs=runs, warmup=warmup),
            measure("model floor: import dataclasses_json", [python, "-I", "-c", "import dataclasses_json"], env=plain, stdin=b"", runs=runs, warmup=warmup),
        ]
        script = plugin_cases("venv script", [python, "-I", str(DEBUG_PLUGIN)])
        bundled = plugin_cases("bundle", [str(bundle_file)])
        go = [measure("Go host-local: VERSION", [str(GO_PLUGIN_DIR / "host-local")], env={**plain, "CNI_COMMAND": "VERSION"}, stdin=b"", runs=runs, warmup=warmup)] if (GO_PLUGIN_DIR / "host-local").exists() else []
        chains = chain_cases(workdir, python, max(5, runs // 4), 2)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}")
    print(f"date: {datetime.date.today().isoformat()}, runs per case: {runs} after {warmup} warm-up runs\n")
    print("| case | wall median (ms) | wall min-max (ms) | peak RSS median (MiB) | RSS min-max (MiB) |")
    print("|---|---|---|---|---|")
    for stats in [*floors, *script, *bundled, *go, *chains]:
        print(stats.row())
    typed_floor, model_floor = floors[1].median_ms, floors[2].median_ms
    print("\nratios (targets in brackets):")
    print(f"  VERSION, venv script / typed floor = {script[0].median_ms / typed_floor:.2f}  [<= 1.20]")
    print(f"  ADD, venv script / model floor    = {script[1].median_ms / model_floor:.2f}  [<= 1.15]")
    for index, what in enumerate(("VERSION", "ADD", "DEL")):
        print(f"  {what}, bundle / venv script{' ' * (8 - len(what))} = {bundled[index].median_ms / script[index].median_ms:.2f}  [<= 1.00]")
    if go:
        print(f"  VERSION, venv script / Go host-local = {script[0].median_ms / go[0].median_ms:.2f}")
    if len(chains) == 2:
        print(f"  libcni chain ADD+DEL with / without our plugin = {chains[1].median_ms / chains[0].median_ms:.2f}")


if __name__ == "__main__":
    main()
