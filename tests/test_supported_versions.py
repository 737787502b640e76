"""The supported Python versions are stated in five places; they must agree."""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _noxfile_versions() -> list[str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, (ast.AnnAssign, ast.Assign)):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "SUPPORTED" for t in targets):
                assert node.value is not None
                value = ast.literal_eval(node.value)
                assert isinstance(value, tuple)
                return [str(v) for v in value]
    raise AssertionError("noxfile.py has no SUPPORTED")


def test_setup_cfg_noxfile_readme_and_tools_agree() -> None:
    versions = _noxfile_versions()
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    classifiers = re.findall(r"Programming Language :: Python :: (3\.\d+)", setup["metadata"]["classifiers"])
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lowest = versions[0]
    assert versions == ["3.10", "3.11", "3.12", "3.13"]
    assert classifiers == versions
    assert setup["options"]["python_requires"] == f">={lowest}"
    assert re.findall(r'^python_version = "(.*)"$', pyproject, re.M) == [lowest]
    assert re.findall(r'^target-version = "(.*)"$', pyproject, re.M) == [f"py{lowest.replace('.', '')}"]
    assert f"Supported: CPython {', '.join(versions[:-1])} and {versions[-1]} on Linux." in readme
