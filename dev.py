#!/usr/bin/env python3
"""Set up the development environment and run the demo or the tests.

    python3 dev.py demo    # .venv with the core and every plugin (editable), then the demo
    python3 dev.py test    # the same plus test tools, then ruff, mypy and pytest
    python3 dev.py setup   # only the environment

Needs nothing but Python >= 3.10 with venv and pip. Extra arguments after ``test`` go
to pytest (``python3 dev.py test -k retry``).
"""

from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def run(*cmd: str | os.PathLike[str], **kw: object) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)  # type: ignore[call-overload]


def plugin_dirs() -> list[Path]:
    return sorted(
        Path(p)
        for p in glob.glob(str(ROOT / "plugins" / "kit-*"))
        if (Path(p) / "pyproject.toml").exists()
    )


def setup(test: bool) -> None:
    if not PY.exists():
        run(sys.executable, "-m", "venv", VENV)
        run(PY, "-m", "pip", "install", "-q", "--upgrade", "pip")
    extra = "[test]" if test else ""
    specs = [f"{ROOT}{extra}"] + [f"{p}{extra}" for p in plugin_dirs()]
    # Reinstall only when a pyproject changed: a no-op setup keeps `dev.py test` quick.
    stamp_text = "\n".join(
        [extra] + [(Path(s.split("[")[0]) / "pyproject.toml").read_text() for s in specs]
    )
    stamp = VENV / f".kit-setup{'-test' if test else ''}"
    digest = hashlib.sha256(stamp_text.encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    args: list[str] = []
    for s in specs:
        args += ["-e", s]
    run(PY, "-m", "pip", "install", "-q", *args)
    stamp.write_text(digest)


def demo() -> int:
    setup(test=False)
    demo_module = "examples.demo"
    if (ROOT / "examples" / "demo.py").exists():
        return subprocess.call([str(PY), "-m", demo_module], cwd=ROOT)
    return subprocess.call([str(BIN / "kit"), "plugins", "--all"], cwd=ROOT)


def test(pytest_args: list[str]) -> int:
    setup(test=True)
    packages = ["kitcore"] + [
        str(d) for p in plugin_dirs() for d in p.glob("kit_*") if (d / "__init__.py").exists()
    ]
    run(BIN / "ruff", "check", ".")
    # The plugins are installed editable, which mypy cannot follow: the examples find
    # them through MYPYPATH instead.
    plugin_path = os.pathsep.join(str(p) for p in plugin_dirs())
    run(BIN / "mypy", *packages, "examples", env={**os.environ, "MYPYPATH": plugin_path})
    return subprocess.call([str(PY), "-m", "pytest", *pytest_args], cwd=ROOT)


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
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
