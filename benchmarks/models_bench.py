"""Benchmark of the model layer (issue 3 item 9). Prints figures; asserts nothing.

Run from the repository root:  python benchmarks/models_bench.py [--quick]

* Round trip of a 1.1.0 result with 64 IPs and 64 routes: decode (validate + build), convert to 0.4.0,
  encode (to_dict), against plain json.loads/json.dumps of the same document.
* First-import cost, each in a fresh interpreter: ``import rscni_py.types``, ``import dataclasses_json``,
  and the first decode (which imports dataclasses-json lazily).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rscni_py.types import Result, parse_result  # noqa: E402
from rscni_py.types.codec import Engine, use_engine  # noqa: E402


def document() -> dict[str, Any]:
    """A 1.1.0 result with 2 interfaces, 64 IPs (half IPv6), 64 routes (every 1.1.0 field set) and DNS."""
    ips = []
    routes = []
    for n in range(64):
        if n % 2:
            ips.append({"interface": 0, "address": f"2001:db8:{n:x}::5/64", "gateway": f"2001:db8:{n:x}::1"})
            routes.append(
                {
                    "dst": f"2001:db8:{n:x}:1::/64",
                    "gw": f"2001:db8:{n:x}::1",
                    "mtu": 1400,
                    "advmss": 1340,
                    "priority": n,
                    "table": 100 + n,
                    "scope": 0,
                }
            )
        else:
            ips.append({"interface": 1, "address": f"10.{n}.0.5/16", "gateway": f"10.{n}.0.1"})
            routes.append(
                {
                    "dst": f"172.{16 + n % 16}.{n}.0/24",
                    "gw": f"10.{n}.0.1",
                    "mtu": 1500,
                    "advmss": 1460,
                    "priority": n,
                    "table": 100 + n,
                    "scope": 253,
                }
            )
    return {
        "cniVersion": "1.1.0",
        "interfaces": [
            {"name": "eth0", "mac": "00:11:22:33:44:55", "mtu": 1500, "sandbox": "/var/run/netns/x"},
            {
                "name": "net1",
                "mac": "00:11:22:33:44:56",
                "mtu": 9000,
                "sandbox": "/var/run/netns/x",
                "pciID": "0000:3b:00.1",
            },
        ],
        "ips": ips,
        "routes": routes,
        "dns": {
            "nameservers": ["10.0.0.53"],
            "domain": "example.com",
            "search": ["example.com"],
            "options": ["ndots:5"],
        },
    }


def per_call(func: Callable[[], object], number: int, repeat: int) -> float:
    """Median CPU seconds per call (process time: steadier than wall time on a busy machine)."""
    runs = timeit.repeat(func, number=number, repeat=repeat, timer=time.process_time)
    return statistics.median(t / number for t in runs)


def fresh(code: str, runs: int) -> float:
    """Median seconds reported by ``code`` (which prints a duration) over fresh interpreters."""
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        times.append(float(out.stdout))
    return statistics.median(times)


def timed(body: str) -> str:
    # CPU time of the process: the machine this runs on may be busy, and wall time then mostly
    # measures the scheduler.
    return f"import time\nt0 = time.process_time()\n{body}\nprint(time.process_time() - t0)"


FIRST_DECODE = "types_.parse_result({'cniVersion': '1.1.0', 'ips': [{'address': '10.0.0.1/8'}]}).to_dict()"


def measure_engine(engine: Engine, text: str, base: float, number: int, repeat: int) -> None:
    """Print decode, convert and encode figures for one codec engine."""
    use_engine(engine)
    decoded = parse_result(json.loads(text))  # warm up: lazy import and per-class plans
    assert isinstance(decoded, Result)
    converted = decoded.convert("0.4.0")
    rows: list[tuple[str, Callable[[], object]]] = [
        ("decode: json.loads + parse_result", lambda: parse_result(json.loads(text))),
        ("convert 1.1.0 -> 0.4.0", lambda: decoded.convert("0.4.0")),
        ("encode: to_dict + json.dumps (0.4.0)", lambda: json.dumps(converted.to_dict())),
        ("decode + convert + encode", lambda: json.dumps(parse_result(json.loads(text)).convert("0.4.0").to_dict())),
    ]
    print(f" engine {engine}:")
    for label, func in rows:
        seconds = per_call(func, number, repeat)
        print(f"  {label:<44} {seconds * 1e3:8.3f} ms  ({seconds / base:6.1f}x baseline)")


def main() -> None:
    quick = "--quick" in sys.argv
    number, repeat, runs = (5, 3, 3) if quick else (50, 7, 11)
    text = json.dumps(document())
    print(
        f"Python {sys.version.split()[0]}; document: {len(text)} bytes, 64 IPs, 64 routes; "
        f"CPU time per call, median of {repeat} x {number} calls"
    )
    base = per_call(lambda: json.dumps(json.loads(text)), number, repeat)
    print(f"  {'json.loads + json.dumps (baseline)':<44} {base * 1e3:8.3f} ms")
    measure_engine("dataclasses-json", text, base, number, repeat)
    measure_engine("native", text, base, number, repeat)

    start = fresh(timed("pass"), runs)
    cold = [
        ("import rscni_py.types", "import rscni_py.types"),
        ("import dataclasses_json", "import dataclasses_json"),
        ("import rscni_py.types + first decode/encode", f"import rscni_py.types as types_\n{FIRST_DECODE}"),
        (
            "same, native engine",
            "from rscni_py.types.codec import use_engine\nuse_engine('native')\n"
            f"import rscni_py.types as types_\n{FIRST_DECODE}",
        ),
    ]
    print(f"Fresh interpreter, CPU time inside the process (interpreter start excluded), median of {runs} runs:")
    for label, body in cold:
        print(f"  {label:<44} {(fresh(timed(body), runs) - start) * 1e3:8.1f} ms")
    use_engine("dataclasses-json")


if __name__ == "__main__":
    main()
