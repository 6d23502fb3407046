"""The development environment is what constraints.txt pins, and type checkers can see it.

`python3 dev.py test` installs from constraints.txt, so a fresh machine gets the versions
CI tested; these tests check the venv running them against that file, and that a user's
`mypy` in the venv finds kitcore and every plugin with no MYPYPATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = sorted(
    d.name
    for p in (ROOT / "plugins").glob("kit-*")
    for d in p.glob("kit_*")
    if (d / "__init__.py").exists()
)


def _pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            out[_canonical(name)] = version
    return out


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@pytest.mark.skipif(bool(os.environ.get("KIT_LATEST")), reason="dev.py test --latest ignores pins")
def test_every_installed_distribution_is_the_pinned_release() -> None:
    pins = _pins()
    workspace = {"kitcore"} | {_canonical(p.name) for p in (ROOT / "plugins").glob("kit-*")}
    off = {}
    for dist in metadata.distributions():
        name = _canonical(dist.metadata["Name"])
        if name not in workspace and pins.get(name) != dist.version:
            off[name] = (dist.version, pins.get(name))
    assert not off, f"installed (version, pin) that constraints.txt does not match: {off}"


def test_mypy_in_the_venv_finds_kitcore_and_every_plugin(tmp_path: Path) -> None:
    assert PLUGINS, "no plugin packages found"
    user = tmp_path / "user_service.py"
    user.write_text(
        "import kitcore\n"
        + "".join(f"import {p}\n" for p in PLUGINS)
        + "endpoint: kitcore.Endpoint = kitcore.nop\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(user)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
