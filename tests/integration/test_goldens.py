"""The golden results (tests/types/golden/) against an outside oracle: Debian's libcni types (Go, 1.1.2).

``cni-driver convert`` parses a result with Go's ``types/create`` and converts it with ``GetAsVersion`` to each
version; we do the same with ``parse_result(...).convert(...)``.  Go 1.1.2 knows the spec up to 1.0.0, so every
golden up to 1.0.0 goes to every version up to 1.0.0, and the two answers must be equal, except:

* keys spec 1.1.0 added (tests/types/test_result_golden.py ``ONLY_1_1_0``, checked there against the spec's text):
  this Go drops them, we keep them wherever their object exists, as Go does since it learnt 1.1.0;
* an empty ``dns`` in a 1.x result: this Go writes ``"dns": {}``, we leave it out as later Go releases do
  (``test_empty_dns_in_1x_is_left_out_where_go_1_1_2_writes_it``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rscni_py.types import ConversionError, parse_result
from tests.types.test_result_golden import GOLDEN, golden, without_1_1_0_keys

GO_VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0")


def go_convert(driver: Path, document: Path, versions: tuple[str, ...] = GO_VERSIONS) -> dict[str, Any]:
    """Go's answer per target version: ``{"ok": True, "result": ...}`` or ``{"ok": False, ...}``."""
    proc = subprocess.run(
        [str(driver), "convert", str(document), *versions], capture_output=True, text=True, check=True, timeout=60
    )
    reply: dict[str, Any] = json.loads(proc.stdout)
    assert reply["ok"], reply
    converted: dict[str, Any] = reply["result"]
    return converted


def our_convert(document: dict[str, Any], version: str) -> dict[str, Any]:
    try:
        return {"ok": True, "result": without_1_1_0_keys(parse_result(document).convert(version).to_dict())}
    except ConversionError as exc:
        return {"ok": False, "message": str(exc)}


@pytest.mark.parametrize("source", GO_VERSIONS)
def test_golden_parses_and_converts_as_go_does(cni_driver: Path, source: str) -> None:
    theirs = go_convert(cni_driver, GOLDEN / f"result-{source}.json")
    ours = {target: our_convert(golden(source), target) for target in GO_VERSIONS}
    # Where a conversion fails, the reason is worded per language; that both refuse is what must agree.
    for answers in (theirs, ours):
        for answer in answers.values():
            if not answer["ok"]:
                answer.clear()
                answer["ok"] = False
    assert ours == theirs


def test_every_golden_converts(cni_driver: Path) -> None:
    # The comparison above would also pass if both sides refused everything: they do not.
    refused = [
        (source, target)
        for source in GO_VERSIONS
        for target, answer in go_convert(cni_driver, GOLDEN / f"result-{source}.json").items()
        if not answer["ok"]
    ]
    assert refused == []


@pytest.mark.parametrize(
    ("version", "go_writes", "we_write"),
    [
        # Decision: in a 1.x result an empty dns is left out, as Go does after 1.1.2 (docs/protocol.md section 10).
        ("1.0.0", {"cniVersion": "1.0.0", "dns": {}}, {"cniVersion": "1.0.0"}),
        # 0.x results always carry dns, empty or not, for Go and for us.
        ("0.4.0", {"cniVersion": "0.4.0", "dns": {}}, {"cniVersion": "0.4.0", "dns": {}}),
    ],
)
def test_empty_dns_in_1x_is_left_out_where_go_1_1_2_writes_it(
    cni_driver: Path, tmp_path: Path, version: str, go_writes: dict[str, Any], we_write: dict[str, Any]
) -> None:
    document = tmp_path / "empty.json"
    document.write_text(json.dumps({"cniVersion": version}))
    assert go_convert(cni_driver, document, (version,)) == {version: {"ok": True, "result": go_writes}}
    assert parse_result({"cniVersion": version}).to_dict() == we_write
