"""The wheel and the sdist, built as a release would build them, hold what they must: the package and its license
in the wheel; everything the repository tracks in the sdist, so that its tests run from the unpacked directory."""

from __future__ import annotations

import email.parser
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NAME, VERSION = "rscni_py", "0.1.0"
#: What setuptools adds to an sdist beside the tracked files.
SDIST_METADATA = {
    "PKG-INFO",
    *(
        f"{NAME}.egg-info/{name}"
        for name in (
            "PKG-INFO",
            "SOURCES.txt",
            "dependency_links.txt",
            "entry_points.txt",
            "requires.txt",
            "top_level.txt",
        )
    ),
}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, and the wheel built from it, as ``python -m build`` makes them (offline, this environment's
    setuptools)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def _wheel(dist: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(dist / f"{NAME}-{VERSION}-py3-none-any.whl")


def test_wheel_holds_the_package_and_the_license(dist: Path) -> None:
    with _wheel(dist) as wheel:
        names = wheel.namelist()
        licenses = [n for n in names if n.startswith(f"{NAME}-{VERSION}.dist-info/") and n.endswith("/LICENSE")]
        assert [wheel.read(n) for n in licenses] == [(ROOT / "LICENSE").read_bytes()]
        package = sorted(n for n in names if not n.startswith(f"{NAME}-{VERSION}.dist-info/"))
    source = sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / NAME).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".typed", ".c")
    )
    assert package == source


def test_wheel_metadata(dist: Path) -> None:
    with _wheel(dist) as wheel:
        metadata = email.parser.Parser().parsestr(wheel.read(f"{NAME}-{VERSION}.dist-info/METADATA").decode())
    assert metadata["Requires-Python"] == ">=3.10"
    assert [c for c in metadata.get_all("Classifier", []) if c.startswith("Programming Language :: Python :: 3.")] == [
        f"Programming Language :: Python :: 3.{minor}" for minor in (10, 11, 12, 13)
    ]
    assert "Apache-2.0" in (metadata["License-Expression"] or metadata["License"])
    assert metadata.get_all("License-File") == ["LICENSE"]
    # No public host exists for the project, and none is made up: the guides ship in the sdist (docs/).
    assert metadata.get_all("Project-URL") is None
    assert metadata["Home-page"] is None


def test_readme_links_work_on_a_package_index_page() -> None:
    """A package index shows the README without the repository around it: no relative links."""
    links = re.findall(r"\]\(([^)]+)\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert [link for link in links if not link.startswith("https://")] == []


def _sdist(dist: Path) -> tuple[Path, str]:
    """The sdist and its top directory; setuptools 69.3 and later write the PEP 625 name (``rscni_py-``), older
    ones the project's name (``rscni-py-``)."""
    (path,) = dist.glob("*.tar.gz")
    top = path.name.removesuffix(".tar.gz")
    assert top in (f"{NAME}-{VERSION}", f"rscni-py-{VERSION}")
    return path, top


def _sdist_files(dist: Path) -> set[str]:
    path, top = _sdist(dist)
    with tarfile.open(path) as sdist:
        return {m.name.removeprefix(f"{top}/") for m in sdist.getmembers() if m.isfile()}


def test_sdist_holds_every_tracked_file(dist: Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout to know the tracked files")
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    tracked = {name for name in listed.splitlines() if (ROOT / name).is_file()} - {".gitignore"}
    assert _sdist_files(dist) == tracked | SDIST_METADATA


def test_sdist_tests_run_from_the_unpacked_directory(dist: Path, tmp_path: Path) -> None:
    path, top = _sdist(dist)
    with tarfile.open(path) as sdist:
        sdist.extractall(tmp_path, filter="data")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_dispatch.py"],
        cwd=tmp_path / top,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    summary = re.sub(r" in [\d.]+s.*$", "", done.stdout.strip().splitlines()[-1])
    assert (done.returncode, re.fullmatch(r"\d+ passed", summary) is not None) == (0, True), done.stdout
