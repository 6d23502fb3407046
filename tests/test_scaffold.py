"""``kit new plugin``: every kind writes a distribution that installs, passes its tests and lists.

Each kind is generated into a temporary directory and installed, editable, into a
temporary venv that sees this test venv's packages through a ``.pth`` (so no network is
needed: no dependency is downloaded, the build backend is the pinned setuptools). Then
the generated tests run there, ``kit plugins --json`` must list the plugin with what it
registers, and the generated code must be clean for ``ruff`` and ``mypy --strict``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

from kitcore.cli import make_cli
from kitcore.scaffold import KINDS, new_plugin, plugin_names

BIN = Path(sys.executable).parent
REGISTERS = {
    "transport": "transports",
    "discovery": "discovery",
    "metrics": "metrics",
    "tracing": "tracing",
    "breaker": "breakers",
    "limiter": "limiters",
}


def _run(*cmd: str | Path, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("KIT_PLUGINS", "KIT_DISABLE_PLUGINS")}
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def _venv_seeing_this_one(path: Path) -> Path:
    """A new venv whose site-packages include this venv's (for kitcore, pytest, setuptools)."""
    _run(sys.executable, "-m", "venv", "--without-pip", path)
    python = path / "bin" / "python"
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    ours = sysconfig.get_paths()["purelib"]
    Path(purelib.strip(), "kit-test-parent.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n"
    )
    return python


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_generated_plugin_installs_passes_its_tests_and_is_listed(
    kind: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    name = f"my-{kind}"
    root = new_plugin(name, kind, tmp_path)
    assert root == tmp_path / f"kit-{name}"
    package = plugin_names(name)["package"]
    python = _venv_seeing_this_one(tmp_path / "venv")
    _run(
        sys.executable, "-m", "pip", "--python", python, "install", "-q",
        "--no-deps", "--no-build-isolation", "-e", root,
    )  # fmt: skip
    tests = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=root)
    assert " passed" in tests and "failed" not in tests and "skipped" not in tests, tests
    listed = json.loads(_run(python, "-m", "kitcore", "plugins", "--json"))
    (info,) = [p for p in listed if p["name"] == f"kit-{name}"]
    assert info["error"] is None and info["version"] == "0.1.0"
    assert info["hooks"] == [KINDS[kind]]
    if kind == "command":
        assert info["commands"] == [name]
    else:
        assert info["registers"] == {REGISTERS[kind]: [name]}
    cache = tmp_path_factory.getbasetemp() / "scaffold-mypy-cache"
    _run(BIN / "mypy", "--strict", "--cache-dir", cache, package, "tests", cwd=root)
    rules = "E,F,W,I,B,UP,RUF,SIM,ASYNC"
    _run(BIN / "ruff", "check", "--select", rules, "--line-length", "100", ".", cwd=root)


def test_the_command_writes_a_plugin_and_refuses_to_overwrite(tmp_path: Path) -> None:
    cli = make_cli()
    args = ["new", "plugin", "kit-registry", "--kind", "discovery", "--directory", str(tmp_path)]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert (tmp_path / "kit-registry" / "kit_registry" / "plugin.py").exists()
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 2 and "exists already" in again.output


@pytest.mark.parametrize("name", ["My", "1abc", "a_b", "kit-", "a--b", ""])
def test_bad_names_are_refused_with_the_rule(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lower-case letters and digits"):
        new_plugin(name, "metrics", tmp_path)
    assert not any(tmp_path.iterdir())


def test_an_unknown_kind_is_refused_listing_the_kinds(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="transport, discovery, metrics"):
        new_plugin("x", "database", tmp_path)
    result = CliRunner().invoke(make_cli(), ["new", "plugin", "x", "--kind", "database"])
    assert result.exit_code == 2 and "database" in result.output
