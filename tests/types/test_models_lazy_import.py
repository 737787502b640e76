"""Fast start: importing the models must not import dataclasses-json or marshmallow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _run(probe: str) -> Any:
    """Run a probe in a fresh interpreter with this checkout on the path; return the JSON it printed."""
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT)},
    )
    return json.loads(done.stdout)


PROBE = """
import json, sys
def loaded():
    return sorted(m for m in sys.modules if m.split(".")[0] in ("dataclasses_json", "marshmallow"))
import rscni_py.types
from rscni_py.types import Result, NetConf, NetConfList, parse_result, parse_prev_result, json_field, v0_2, v0_4, v1_0
from rscni_py.types import runtime_config, netconf, common
from rscni_py.types import codec
r = Result()
r.convert("0.4.0")
after_import = loaded()
parse_result({"cniVersion": "1.1.0"})
after_decode = loaded()
print(json.dumps({"after_import": after_import, "after_decode": "dataclasses_json.core" in after_decode,
                  "marshmallow": "marshmallow" in after_decode, "flag": codec.library_loaded()}))
"""


def test_models_import_without_dataclasses_json() -> None:
    assert _run(PROBE) == {"after_import": [], "after_decode": True, "marshmallow": True, "flag": True}


NATIVE_PROBE = """
import json, sys
from rscni_py.types.codec import use_engine
from rscni_py.types import NetConf, decode, encode, parse_prev_result
use_engine("native")
conf = decode(NetConf, {"cniVersion": "1.1.0", "type": "t", "prevResult": {"ips": [{"address": "10.0.0.1/8"}]}, "x": 1})
out = encode(conf)
prev = parse_prev_result(conf.raw)
assert prev is not None
print(json.dumps({"encoded": out, "prev": prev.to_dict(),
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("dataclasses_json", "marshmallow"))}))
"""


def test_native_engine_never_imports_dataclasses_json() -> None:
    assert _run(NATIVE_PROBE) == {
        "encoded": {"cniVersion": "1.1.0", "type": "t", "prevResult": {"ips": [{"address": "10.0.0.1/8"}]}, "x": 1},
        "prev": {"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.1/8"}]},
        "loaded": [],
    }


DEFERRED_PROBE = """
from __future__ import annotations
import json, sys
from dataclasses import dataclass, field
from rscni_py.types import NetConf, decode

def loaded():
    names = ("rscni_py.types.ipam", "rscni_py.types.gc", "rscni_py.types.runtime_config")
    return sorted(m for m in names if m in sys.modules)

@dataclass
class Peer:
    host: str

@dataclass(kw_only=True)
class MyConf(NetConf):
    peers: list[Peer] = field(default_factory=list)

before = loaded()
conf = decode(MyConf, {"name": "n", "ipam": {"type": "host-local"}, "runtimeConfig": {"mac": "00:11:22:33:44:55"},
                       "peers": [{"host": "a"}]})
print(json.dumps({"before": before, "after": loaded(), "peers": [p.host for p in conf.peers],
                  "ipam": type(conf.ipam).__name__, "mac": conf.runtime_config.mac,
                  "default": type(MyConf().runtime_config).__name__}))
"""


def test_netconf_sub_models_load_on_first_decode() -> None:
    # NetConf names IPAMConf, GCAttachment, RuntimeConfig and DNS in strings only (lazy names); a subclass with
    # string annotations of its own still decodes, its names resolved in its own module.
    assert _run(DEFERRED_PROBE) == {
        "before": [],
        "after": ["rscni_py.types.gc", "rscni_py.types.ipam", "rscni_py.types.runtime_config"],
        "peers": ["a"],
        "ipam": "IPAMConf",
        "mac": "00:11:22:33:44:55",
        "default": "RuntimeConfig",
    }


HINTS_PROBE = """
import dataclasses, importlib, json, typing
modules = ["rscni_py", "rscni_py.types", "rscni_py.types.v0_2", "rscni_py.types.v0_4", "rscni_py.types.v1_0",
           "rscni_py.types.runtime_config", "rscni_py.types.conflist", "rscni_py.types.ipam", "rscni_py.types.gc"]
models, failed = set(), {}
for name in modules:
    module = importlib.import_module(name)
    for attr in module.__all__:
        value = getattr(module, attr)
        if isinstance(value, type) and dataclasses.is_dataclass(value):
            models.add(value.__qualname__)
            try:
                typing.get_type_hints(value)
            except Exception as exc:
                failed[value.__qualname__] = repr(exc)
print(json.dumps({"models": sorted(models), "failed": failed, "NetConf.ipam": str(typing.get_type_hints(
    importlib.import_module("rscni_py").NetConf)["ipam"])}))
"""


def test_type_hints_resolve_on_every_public_model_without_a_decode() -> None:
    # NetConf and CmdArgs name some types lazily; get_type_hints still resolves them, in a fresh interpreter.
    assert _run(HINTS_PROBE) == {
        "models": [
            "Bandwidth",
            "CNIArgs",
            "CmdArgs",
            "DNS",
            "GCAttachment",
            "IPAMConf",
            "IPConfig",
            "IPRange",
            "Interface",
            "K8sArgs",
            "NetConf",
            "NetConfList",
            "PluginInfo",
            "PortMapping",
            "Result",
            "Route",
            "RuntimeConfig",
            "RuntimeDNS",
        ],
        "failed": {},
        "NetConf.ipam": "rscni_py.types.ipam.IPAMConf | None",
    }
