#!/usr/bin/env python3
"""Set up the development environment and run the demo or the tests.

    python3 dev.py demo    # .venv with the core and every plugin (editable), then the demo
    python3 dev.py test    # the same plus test tools, then ruff (lint, format), mypy, pytest
    python3 dev.py setup   # only the environment
    python3 dev.py lock    # record what .venv holds in constraints.txt (after adding a dependency)
    python3 dev.py test --latest           # the suite on the newest releases, in .venv-latest
    python3 dev.py lock --upgrade          # re-resolve every pin to the newest releases

Needs nothing but Python >= 3.10 with venv and pip. Extra arguments after ``test`` go
to pytest (``python3 dev.py test -k retry``).

Installs are reproducible: every third-party distribution, pip and the build backend
included, is pinned in constraints.txt, which is what CI tested. A package installed
that the file does not pin fails setup with the command that records it, so a new
dependency cannot reach main unpinned. ``--latest`` ignores the pins, so breakage from
a new release shows here before it reaches users.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "constraints.txt"
LOCK_HEAD = (
    "# Every third-party distribution that `python3 dev.py test` installs, as CI tested it.\n"
    "# Written by `python3 dev.py lock`; do not edit by hand.\n"
)


class Venv:
    """One virtual environment: where it lives and its executables."""

    def __init__(self, name: str) -> None:
        self.path = ROOT / name
        self.bin = self.path / ("Scripts" if os.name == "nt" else "bin")
        self.python = self.bin / "python"


PINNED = Venv(".venv")
LATEST = Venv(".venv-latest")


def run(*cmd: str | os.PathLike[str], **kw: object) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)  # type: ignore[call-overload]


def plugin_dirs() -> list[Path]:
    return sorted(
        Path(p)
        for p in glob.glob(str(ROOT / "plugins" / "kit-*"))
        if (Path(p) / "pyproject.toml").exists()
    )


def pins(text: str) -> dict[str, str]:
    """Name -> version of each ``name==version`` line."""
    out = {}
    for line in text.splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            out[canonical(name)] = version.strip()
    return out


def canonical(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def installed(venv: Venv) -> dict[str, str]:
    """The third-party distributions in ``venv`` (the workspace's own are editable)."""
    out = subprocess.run(
        [str(venv.python), "-m", "pip", "freeze", "--all", "--exclude-editable"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    return pins(out)


def specs(test: bool) -> list[str]:
    extra = "[test]" if test else ""
    return [f"{ROOT}{extra}"] + [f"{p}{extra}" for p in plugin_dirs()]


def editables(test: bool) -> list[str]:
    """pip arguments installing the workspace editable."""
    return [a for s in specs(test) for a in ("-e", s)]


def setup(test: bool, venv: Venv = PINNED, locked: bool = True) -> None:
    """Install the workspace, editable, into ``venv``; pinned unless ``locked`` is false."""
    # The pins bind pip's build environments too, so the build backend is pinned as well.
    constraints = ["-c", str(LOCK), "--build-constraint", str(LOCK)] if locked else []
    if not venv.python.exists():
        run(sys.executable, "-m", "venv", venv.path)
        # The venv's own pip and setuptools are Python's bundled ones: bring them to the
        # pinned (or newest) releases so the venv and the build environments agree.
        lock_pip = ["-c", str(LOCK)] if locked else []
        run(venv.python, "-m", "pip", "install", "-q", "--upgrade", *lock_pip, "pip", "setuptools")
    # Reinstall only when a pyproject or the pins changed: a no-op setup keeps `dev.py test`
    # quick.
    wanted = specs(test)
    stamp_text = "\n".join(
        [str(test), LOCK.read_text() if locked else "latest"]
        + [(Path(s.split("[")[0]) / "pyproject.toml").read_text() for s in wanted]
    )
    stamp = venv.path / f".kit-setup{'-test' if test else ''}"
    digest = hashlib.sha256(stamp_text.encode()).hexdigest()
    if locked and stamp.exists() and stamp.read_text() == digest:
        return
    upgrade = [] if locked else ["--upgrade", "--upgrade-strategy", "eager"]
    run(venv.python, "-m", "pip", "install", "-q", *upgrade, *constraints, *editables(test))
    if locked:
        check_pinned(venv)
    stamp.write_text(digest)


def check_pinned(venv: Venv) -> None:
    """Fail when ``venv`` holds a distribution that constraints.txt does not pin."""
    unpinned = sorted(set(installed(venv)) - set(pins(LOCK.read_text())))
    if unpinned:
        raise SystemExit(
            f"dev.py: not pinned in constraints.txt: {', '.join(unpinned)}; "
            "run `python3 dev.py lock` and commit constraints.txt"
        )


def lock(upgrade: bool) -> int:
    """Write constraints.txt from what the workspace resolves to.

    Plain ``lock`` keeps every existing pin and adds what a new dependency brought, in
    .venv; ``--upgrade`` resolves everything anew to the newest releases, in a new
    .venv-latest.
    """
    if upgrade:
        shutil.rmtree(LATEST.path, ignore_errors=True)
        setup(test=True, venv=LATEST, locked=False)
        versions = installed(LATEST)
    else:
        if not PINNED.python.exists():
            setup(test=True)
        run(PINNED.python, "-m", "pip", "install", "-q", "-c", LOCK, *editables(True))
        versions = installed(PINNED)
    LOCK.write_text(LOCK_HEAD + "".join(f"{n}=={v}\n" for n, v in sorted(versions.items())))
    print(f"dev.py: {len(versions)} pins written to {LOCK.name}")
    return 0


def demo() -> int:
    setup(test=False)
    demo_module = "examples.demo"
    if (ROOT / "examples" / "demo.py").exists():
        return subprocess.call([str(PINNED.python), "-m", demo_module], cwd=ROOT)
    return subprocess.call([str(PINNED.bin / "kit"), "plugins", "--all"], cwd=ROOT)


def test(pytest_args: list[str]) -> int:
    latest = "--latest" in pytest_args
    pytest_args = [a for a in pytest_args if a != "--latest"]
    venv = LATEST if latest else PINNED
    setup(test=True, venv=venv, locked=not latest)
    if latest:
        report_drift(venv)
        os.environ["KIT_LATEST"] = "1"  # tests comparing the venv with the pins stand down
    packages = ["kitcore"] + [
        str(d) for p in plugin_dirs() for d in p.glob("kit_*") if (d / "__init__.py").exists()
    ]
    run(venv.bin / "ruff", "check", ".")
    run(venv.bin / "ruff", "format", "--check", ".")
    run(venv.bin / "mypy", *packages, "examples")
    return subprocess.call([str(venv.python), "-m", "pytest", *pytest_args], cwd=ROOT)


def report_drift(venv: Venv) -> None:
    """Print each distribution whose newest release differs from its pin."""
    pinned = pins(LOCK.read_text())
    for name, version in sorted(installed(venv).items()):
        if pinned.get(name) != version:
            print(f"dev.py: {name} {pinned.get(name, '(not pinned)')} -> {version}")


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "test"
    try:
        if command == "demo":
            return demo()
        if command == "test":
            return test(argv[1:])
        if command == "setup":
            setup(test=True)
            return 0
        if command == "lock":
            return lock(upgrade="--upgrade" in argv[1:])
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
