"""Every distribution of the workspace builds as a wheel and an sdist that a user can install.

Nothing is published on PyPI: users install from a checkout or from wheels built with
``python -m build``. Each distribution (the core at the root, each plugin under
``plugins/``) is built here into a temporary directory, without build isolation so that
no network is needed (setuptools comes from the pinned venv), and its wheel is checked
for the package, its ``py.typed`` marker and its entry points.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIRS = sorted(p for p in (ROOT / "plugins").glob("kit-*") if (p / "pyproject.toml").exists())


def _build(source: Path, out: Path) -> tuple[Path, Path]:
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist


def _entry_points(wheel: zipfile.ZipFile) -> configparser.ConfigParser:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(wheel.read(name).decode())
    return parser


def _check_package(wheel: zipfile.ZipFile, sdist: Path, package: str) -> None:
    names = set(wheel.namelist())
    assert f"{package}/__init__.py" in names
    assert f"{package}/py.typed" in names
    assert not any(n.startswith(("tests/", "plugins/", "examples/")) for n in names), names
    with tarfile.open(sdist) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    assert {"pyproject.toml", "README.md", f"{package}/__init__.py", f"{package}/py.typed"} <= (
        members
    )


@pytest.mark.parametrize("source", PLUGIN_DIRS, ids=lambda p: p.name)
def test_each_plugin_builds_with_its_package_and_kit_entry_point(
    source: Path, tmp_path: Path
) -> None:
    package = source.name.replace("-", "_")
    wheel_path, sdist = _build(source, tmp_path)
    with zipfile.ZipFile(wheel_path) as wheel:
        _check_package(wheel, sdist, package)
        kit = dict(_entry_points(wheel)["kit"])
    assert kit == {source.name: f"{package}.plugin"}


def test_the_core_builds_with_the_kit_command(tmp_path: Path) -> None:
    wheel_path, sdist = _build(ROOT, tmp_path)
    with zipfile.ZipFile(wheel_path) as wheel:
        _check_package(wheel, sdist, "kitcore")
        names = set(wheel.namelist())
        entry_points = _entry_points(wheel)
    assert "kitcore/testing/__init__.py" in names
    # `kit new plugin` reads its templates from the installed package.
    assert "kitcore/scaffold/templates/discovery/backend.py.tmpl" in names
    assert "kitcore/scaffold/templates/common/pyproject.toml.tmpl" in names
    assert dict(entry_points["console_scripts"]) == {"kit": "kitcore.cli:main"}
    assert dict(entry_points["pytest11"]) == {"kitcore": "kitcore.testing.pytest_plugin"}
