"""An integration test's skip names everything the machine lacks, not only the first missing tool."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.containerd import missing_containerd_requirements
from tests.integration.harness import require


def test_skip_names_every_missing_tool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no tool is found
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require(*missing_containerd_requirements(busybox=tmp_path / "busybox"))
    tools = [part for part in str(skipped.value.msg).split("; ") if part.startswith("'") or "busybox" in part]
    assert tools == [
        "'ip' not found (Debian package iproute2)",
        "'ping' not found (Debian package iputils-ping)",
        "'go' not found (Debian package golang-go)",
        "'containerd' not found (Debian package containerd)",
        "'ctr' not found (Debian package containerd)",
        "'runc' not found (Debian package runc)",
        f"{tmp_path}/busybox missing (Debian package busybox-static)",
    ]
