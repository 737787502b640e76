#!/usr/bin/env python3
"""Cost of one plugin invocation: wall time, CPU time and peak RSS, against Python floors and a Go reference plugin.

Each case is a whole process, started the way a runtime starts a plugin (fresh environment, stdin from a file,
stdout and stderr discarded). The cases are run round-robin, one run of each per round after warm-up rounds, so
that a change in the machine's load during the run touches every case alike. The figures are the median and the
min-max of wall time (ms) and of CPU time (user + system, ms, from ``wait4``), and the peak RSS (MiB) from separate
rounds under GNU ``time`` (``/usr/bin/time -f %M``): a child forked from this process would report this process's
own size as its peak, since Linux counts the memory a process had before ``exec``.

Cases:

* floors: ``python -I -c pass``; ``python -I -c "import dataclasses, typing, json"`` (what any typed plugin module
  costs before our code: the typed floor); ``python -I -c "import dataclasses_json"`` (the model library);
* the debug plugin (examples/debug/rscni_debug.py) as a script run by the virtual environment's interpreter and as
  a one-file bundle: VERSION, ADD with a 1.0.0 prevResult, DEL;
* a minimal typed plugin (tests/plugins/typed.py), as a script: VERSION and ADD, i.e. the SDK without the debug
  plugin's own imports (tempfile, pathlib); once with the default codec (dataclasses-json), once with
  ``codec = "native"``;
* Go's host-local from /usr/lib/cni: VERSION;
* as root, with the libcni driver (tests/integration/build_driver.sh; built here when missing): a bridge +
  host-local chain ADD+DEL through libcni, without and with the debug plugin's bundle appended.

With ``--instructions``, every case but the chain also runs once under valgrind (``cachegrind``, cache simulation
off) and its instruction count is printed: unlike time, it barely changes with the machine's load, so it is the
figure to compare between two versions of the code on a shared machine.

With ``--breakdown`` it only counts, under valgrind, the instructions of the typed plugin's VERSION and ADD built
up one stage at a time (the floors, each group of SDK names a plugin imports, the plugin's own classes, the
dispatcher, the command served), and prints what each stage adds: where the start-up budget goes.

Targets are printed as ratios of medians; nothing here asserts them. Usage: ``python benchmarks/run.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's rscni_py, for building the bundle

DEBUG_PLUGIN = ROOT / "examples" / "debug" / "rscni_debug.py"
TYPED_PLUGIN = ROOT / "tests" / "plugins" / "typed.py"
GO_PLUGIN_DIR = Path("/usr/lib/cni")
DRIVER = ROOT / "tests" / "integration" / ".build" / "cni-driver"
BUILD_DRIVER = ROOT / "tests" / "integration" / "build_driver.sh"
GNU_TIME = "/usr/bin/time"
NETNS = "rscni-bench"
ATTACH = {"CNI_CONTAINERID": "bench1", "CNI_NETNS": f"/var/run/netns/{NETNS}", "CNI_IFNAME": "eth0"}
PREV_RESULT = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "eth0", "mac": "aa:bb:cc:dd:ee:ff", "sandbox": f"/var/run/netns/{NETNS}"}],
    "ips": [{"interface": 0, "address": "10.10.0.5/24", "gateway": "10.10.0.1"}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.10.0.1"}],
    "dns": {"nameservers": ["10.10.0.1"]},
}


@dataclass
class Case:
    """One command line to time, with its environment and stdin, and the figures collected for it."""

    name: str
    argv: list[str]
    env: dict[str, str]
    stdin: bytes = b""
    wall_ms: list[float] = field(default_factory=list)
    instructions: float | None = None  # millions, from valgrind
    cpu_ms: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)

    def run(self, feed: int, keep: bool) -> None:
        """Start the process once, wait for it, and (when ``keep``) record its wall and CPU time."""
        os.lseek(feed, 0, os.SEEK_SET)
        start = time.perf_counter()
        proc = subprocess.Popen(
            self.argv, env=self.env, stdin=feed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = (time.perf_counter() - start) * 1000
        self._check(os.waitstatus_to_exitcode(status))
        if keep:
            self.wall_ms.append(elapsed)
            self.cpu_ms.append((usage.ru_utime + usage.ru_stime) * 1000)

    def run_for_rss(self, feed: int, report: Path) -> None:
        """Start the process once under GNU time and record its peak RSS."""
        os.lseek(feed, 0, os.SEEK_SET)
        argv = [GNU_TIME, "-f", "%M", "-o", str(report), *self.argv]
        code = subprocess.run(
            argv, env=self.env, stdin=feed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        ).returncode
        self._check(code)
        self.rss_mib.append(int(report.read_text().split()[-1]) / 1024)

    def count_instructions(self, feed: int) -> None:
        """Run the process once under valgrind and keep its instruction count (millions)."""
        os.lseek(feed, 0, os.SEEK_SET)
        argv = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *self.argv]
        proc = subprocess.run(
            argv, env=self.env, stdin=feed, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        self._check(proc.returncode)
        for line in proc.stderr.decode(errors="replace").splitlines():
            if "I   refs:" in line:
                self.instructions = int(line.rpartition(":")[2].replace(",", "")) / 1e6

    def _check(self, code: int) -> None:
        if code != 0:
            raise SystemExit(f"{self.name}: exited with {code}: {' '.join(self.argv)}")

    @property
    def wall(self) -> float:
        return statistics.median(self.wall_ms)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_ms)

    def row(self) -> str:
        def cell(values: list[float]) -> str:
            return f"{statistics.median(values):.1f} | {min(values):.1f}-{max(values):.1f}"

        rss = cell(self.rss_mib) if self.rss_mib else "n/a | n/a"
        return f"| {self.name} | {cell(self.wall_ms)} | {cell(self.cpu_ms)} | {rss} |"


def run_round_robin(cases: list[Case], runs: int, warmup: int, rss_runs: int, instructions: bool = False) -> None:
    """``warmup`` rounds, then ``runs`` measured rounds, then ``rss_runs`` rounds under GNU time (and one under
    valgrind when ``instructions``); each round runs every case once, in a fixed order."""
    feeds: list[int] = []
    try:
        for case in cases:
            fd, path = tempfile.mkstemp()
            os.unlink(path)
            os.write(fd, case.stdin)
            feeds.append(fd)
        for index in range(warmup + runs):
            for case, feed in zip(cases, feeds, strict=True):
                case.run(feed, keep=index >= warmup)
        if os.access(GNU_TIME, os.X_OK):
            with tempfile.TemporaryDirectory() as tmp:
                for _ in range(rss_runs):
                    for case, feed in zip(cases, feeds, strict=True):
                        case.run_for_rss(feed, Path(tmp) / "rss")
        if instructions:
            for case, feed in zip(cases, feeds, strict=True):
                case.count_instructions(feed)
    finally:
        for fd in feeds:
            os.close(fd)


def script_command(python: str, plugin: Path) -> tuple[list[str], dict[str, str]]:
    """How the venv runs a plugin script: ``python -I`` when this checkout is what it imports, else via PYTHONPATH."""
    probe = subprocess.run(
        [python, "-I", "-c", "import rscni_py; print(rscni_py.__file__)"], capture_output=True, text=True, check=False
    )
    if probe.returncode == 0 and Path(probe.stdout.strip()).resolve().is_relative_to(ROOT):
        return [python, "-I", str(plugin)], {}
    # Not installed from this checkout (or not at all): put it first on the path; -s still skips the user site.
    return [python, "-s", str(plugin)], {"PYTHONPATH": str(ROOT)}


def build_driver() -> bool:
    if DRIVER.exists():
        return True
    proc = subprocess.run(["sh", str(BUILD_DRIVER)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"(cannot build the libcni driver, skipping the chain: {proc.stderr.strip()})")
    return proc.returncode == 0


def chain_cases(workdir: Path, plugin_bundle: Path, plain: dict[str, str]) -> list[Case]:
    """libcni (our Go driver) running bridge + host-local, without and with the debug plugin's bundle after them."""
    if os.geteuid() != 0:
        print("(skipping the libcni chain: it needs root)")
        return []
    if not build_driver():
        return []
    plugin_dir = workdir / "bin"
    plugin_dir.mkdir()
    (plugin_dir / "rscni-debug").symlink_to(plugin_bundle)
    base = [
        {
            "type": "bridge",
            "bridge": "rscni-bench0",
            "isGateway": True,
            "ipam": {"type": "host-local", "subnet": "10.247.0.0/24", "dataDir": str(workdir / "ipam")},
        },
    ]
    debug = {"type": "rscni-debug", "cniOutput": str(workdir / "chain-records")}
    out: list[Case] = []
    for label, plugins in (("bridge + host-local", base), ("bridge + host-local + debug bundle", [*base, debug])):
        conflist = workdir / f"chain{len(plugins)}.conflist"
        conflist.write_text(json.dumps({"cniVersion": "1.0.0", "name": "bench", "plugins": plugins}))
        flags = (
            f"--cache-dir {workdir / 'cache'} --netns /var/run/netns/{NETNS} --ifname eth0 --container-id bench1 "
            f"--cni-path {plugin_dir}:{GO_PLUGIN_DIR}"
        )
        script = f"{DRIVER} add {conflist} {flags} >/dev/null && {DRIVER} del {conflist} {flags} >/dev/null"
        out.append(Case(f"libcni chain ADD+DEL: {label}", ["/bin/sh", "-c", script], plain))
    return out


def ratio(text: str, value: float, target: str = "") -> str:
    return f"  {text:<58} {value:5.2f}" + (f"  [target {target}]" if target else "")


# The typed plugin's start-up, one cumulative stage at a time: (stage, Python code run with -I -c, command served).
# The plugin's own module is compiled from source in the last stages, as a script run by `python plugin.py` is.
_RUN_TYPED = (
    "import sys, types; sys.argv = ['typed']; module = sys.modules[NAME] = types.ModuleType(NAME); "
    f"exec(compile(open({str(TYPED_PLUGIN)!r}).read(), 'typed', 'exec'), vars(module))"
)
BREAKDOWN: list[tuple[str, str, str]] = [
    ("interpreter: pass", "pass", ""),
    ("typed floor: import dataclasses, typing, json", "import dataclasses, typing, json", ""),
    ("+ rscni_py and json_field", "import dataclasses, typing, json; from rscni_py.types import json_field", ""),
    (
        "+ NetConf",
        "import dataclasses, typing, json; from rscni_py.types import json_field; from rscni_py import NetConf",
        "",
    ),
    (
        "+ K8sArgs",
        "import dataclasses, typing, json; from rscni_py.types import json_field; "
        "from rscni_py import NetConf, K8sArgs",
        "",
    ),
    (
        "+ CNIPlugin, CmdArgs",
        "import dataclasses, typing, json; from rscni_py.types import json_field; "
        "from rscni_py import NetConf, K8sArgs, CNIPlugin, CmdArgs",
        "",
    ),
    (
        "+ Result (the imports of typed.py)",
        "import dataclasses, typing, json; from rscni_py.types import json_field, Result; "
        "from rscni_py import NetConf, K8sArgs, CNIPlugin, CmdArgs",
        "",
    ),
    (
        "+ the plugin's own classes (typed.py, not run)",
        "import dataclasses, typing, json; " + _RUN_TYPED.replace("NAME", "'typed'"),
        "",
    ),
    (
        "+ the dispatcher's modules",
        "import dataclasses, typing, json; import rscni_py.protocol.main; " + _RUN_TYPED.replace("NAME", "'typed'"),
        "",
    ),
    ("= VERSION served", "import dataclasses, typing, json; " + _RUN_TYPED.replace("NAME", "'__main__'"), "VERSION"),
    ("model floor: import dataclasses_json", "import dataclasses_json", ""),
    ("= ADD served (1.0.0 prevResult)", "import dataclasses_json; " + _RUN_TYPED.replace("NAME", "'__main__'"), "ADD"),
]


def breakdown(python: str, stdin: bytes) -> None:
    """Print the instruction count of each BREAKDOWN stage and what it adds to the one before."""
    argv, env = script_command(python, TYPED_PLUGIN)
    flags = argv[1]  # -I, or -s with PYTHONPATH when the venv does not import this checkout
    plain = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), **env}
    cases = [
        Case(
            name,
            [python, flags, "-c", code],
            {**plain, **({**ATTACH, "CNI_PATH": "/opt/cni/bin", "CNI_COMMAND": command} if command else {})},
            stdin if command == "ADD" else b"",
        )
        for name, code, command in BREAKDOWN
    ]
    with tempfile.TemporaryFile() as feed_file:
        feed = feed_file.fileno()
        for case in cases:
            os.ftruncate(feed, 0)
            os.write(feed, case.stdin)
            case.run(feed, keep=False)  # the first run of a stage may write bytecode caches
            case.count_instructions(feed)
    print(f"typed plugin start-up by stage, instructions (millions, valgrind), {python} {flags}:")
    previous = 0.0
    for case in cases:
        count = case.instructions or 0.0
        added = f"{count - previous:+8.1f}" if case.name.startswith(("+", "=")) else ""
        print(f"  {case.name:<52} {count:8.1f} {added}")
        previous = count
    floor, version = cases[1].instructions or 1.0, cases[9].instructions or 0.0
    model_floor, add = cases[10].instructions or 1.0, cases[11].instructions or 0.0
    print(ratio("VERSION / typed floor", version / floor, "<= 1.20"))
    print(ratio("ADD / model floor", add / model_floor, "<= 1.15"))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="measured runs per case (default 40)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up runs per case (default 5)")
    parser.add_argument("--chain-runs", type=int, default=15, help="measured runs per libcni chain case (default 15)")
    parser.add_argument(
        "--rss-runs", type=int, default=5, help="runs per case under GNU time for the peak RSS (default 5)"
    )
    parser.add_argument("--instructions", action="store_true", help="also count instructions under valgrind")
    parser.add_argument("--python", default=sys.executable, help="the venv interpreter the plugin scripts run with")
    parser.add_argument(
        "--breakdown", action="store_true", help="only count the typed plugin's start-up by stage (valgrind)"
    )
    ns = parser.parse_args()
    if (ns.instructions or ns.breakdown) and shutil.which("valgrind") is None:
        parser.error("--instructions and --breakdown need valgrind (Debian package valgrind)")
    if ns.breakdown:
        breakdown(
            ns.python,
            json.dumps({"cniVersion": "1.0.0", "name": "bench", "type": "typed", "prevResult": PREV_RESULT}).encode(),
        )
        return
    python: str = ns.python
    plain = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    attach = {**plain, **ATTACH, "CNI_PATH": str(GO_PLUGIN_DIR)}

    from rscni_py.tools.bundle import bundle

    netns_made = False
    with tempfile.TemporaryDirectory(prefix="rscni-bench-") as tmp:
        workdir = Path(tmp)
        config = {"cniVersion": "1.0.0", "name": "bench", "type": "rscni-debug", "prevResult": PREV_RESULT}
        config["cniOutput"] = str(workdir / "records")
        stdin = json.dumps(config).encode()
        bundle_file = bundle(DEBUG_PLUGIN, workdir / "rscni-debug")
        with bundle_file.open("rb") as head:
            shebang = head.readline().decode().strip()
        debug_argv, debug_env = script_command(python, DEBUG_PLUGIN)
        typed_argv, typed_env = script_command(python, TYPED_PLUGIN)

        def plugin_cases(label: str, argv: list[str], extra: dict[str, str], commands: tuple[str, ...]) -> list[Case]:
            names = {"VERSION": "VERSION", "ADD": "ADD (1.0.0 prevResult)", "DEL": "DEL"}
            return [
                Case(
                    f"{label}: {names[command]}",
                    argv,
                    {**(plain if command == "VERSION" else attach), **extra, "CNI_COMMAND": command},
                    b"" if command == "VERSION" else stdin,
                )
                for command in commands
            ]

        floors = [
            Case("floor: python -I -c pass", [python, "-I", "-c", "pass"], plain),
            Case(
                "typed floor: import dataclasses, typing, json",
                [python, "-I", "-c", "import dataclasses, typing, json"],
                plain,
            ),
            Case("model floor: import dataclasses_json", [python, "-I", "-c", "import dataclasses_json"], plain),
        ]
        typed = plugin_cases("typed plugin, venv script", typed_argv, typed_env, ("VERSION", "ADD"))
        native = plugin_cases("typed plugin, native codec", [*typed_argv, "--native"], typed_env, ("VERSION", "ADD"))
        script = plugin_cases("debug plugin, venv script", debug_argv, debug_env, ("VERSION", "ADD", "DEL"))
        bundled = plugin_cases("debug plugin, bundle", [str(bundle_file)], {}, ("VERSION", "ADD", "DEL"))
        host_local = GO_PLUGIN_DIR / "host-local"
        go = (
            [Case("Go host-local: VERSION", [str(host_local)], {**plain, "CNI_COMMAND": "VERSION"})]
            if host_local.exists()
            else []
        )
        cases = [*floors, *typed, *native, *script, *bundled, *go]

        if os.geteuid() == 0:
            netns_made = subprocess.run(["ip", "netns", "add", NETNS], check=False).returncode == 0
        try:
            run_round_robin(cases, ns.runs, ns.warmup, ns.rss_runs, ns.instructions)
            chains = chain_cases(workdir, bundle_file, plain) if netns_made else []
            if chains:
                run_round_robin(chains, ns.chain_runs, 2, min(ns.rss_runs, 3))
        finally:
            if netns_made:
                subprocess.run(["ip", "netns", "del", NETNS], check=False)
                subprocess.run(["ip", "link", "del", "rscni-bench0"], check=False, stderr=subprocess.DEVNULL)

    load = os.getloadavg()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    print(
        f"runs per case: {ns.runs} after {ns.warmup} warm-up runs, round-robin (chain: {ns.chain_runs} after 2); "
        f"peak RSS from {ns.rss_runs} more under GNU time"
    )
    print(f"venv script: {' '.join(debug_argv[:2])} PLUGIN{' with PYTHONPATH=' + str(ROOT) if debug_env else ''}")
    print(f"bundle: {shebang}\n")
    print(
        "| case | wall median (ms) | wall min-max (ms) | CPU median (ms) | CPU min-max (ms) "
        "| peak RSS median (MiB) | RSS min-max (MiB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for case in [*cases, *chains]:
        print(case.row())

    typed_floor, model_floor = floors[1], floors[2]
    print("\nratios of medians, wall time (CPU time):")
    for text, num, den, target in (
        ("VERSION, typed plugin / typed floor", typed[0], typed_floor, "<= 1.20"),
        ("VERSION, debug plugin script / typed floor", script[0], typed_floor, "<= 1.20"),
        ("ADD, typed plugin / model floor", typed[1], model_floor, "<= 1.15"),
        ("ADD, typed plugin with the native codec / typed floor", native[1], typed_floor, ""),
        ("ADD, debug plugin script / model floor", script[1], model_floor, "<= 1.15"),
        ("VERSION, debug bundle / debug script", bundled[0], script[0], "<= 1.00"),
        ("ADD, debug bundle / debug script", bundled[1], script[1], "<= 1.00"),
        ("DEL, debug bundle / debug script", bundled[2], script[2], "<= 1.00"),
    ):
        print(f"{ratio(text, num.wall / den.wall, target)}   ({num.cpu / den.cpu:.2f})")
    if go:
        shown = ratio("VERSION, debug bundle / Go host-local", bundled[0].wall / go[0].wall)
        print(f"{shown}   ({bundled[0].cpu / go[0].cpu:.2f})")
    if len(chains) == 2:
        extra = chains[1].wall - chains[0].wall
        print(
            f"{ratio('libcni chain ADD+DEL, with / without the debug bundle', chains[1].wall / chains[0].wall)}"
            f"   (+{extra:.1f} ms wall)"
        )
    counted = [case for case in cases if case.instructions is not None]
    if counted:
        print("\ninstructions (millions, valgrind), and ratios by instructions:")
        for case in counted:
            print(f"  {case.name:<58} {case.instructions:8.1f}")
        for text, num, den in (
            ("VERSION, typed plugin / typed floor", typed[0], typed_floor),
            ("VERSION, debug plugin script / typed floor", script[0], typed_floor),
            ("ADD, typed plugin / model floor", typed[1], model_floor),
            ("ADD, debug plugin script / model floor", script[1], model_floor),
            ("VERSION, debug bundle / debug script", bundled[0], script[0]),
            ("ADD, debug bundle / debug script", bundled[1], script[1]),
        ):
            if num.instructions and den.instructions:
                print(ratio(text, num.instructions / den.instructions))


if __name__ == "__main__":
    main()
