"""`kit plugins` as a subprocess, against two real plugin distributions installed by pip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
KIT = [sys.executable, "-c", "import sys; from kitcore.cli import main; sys.exit(main())"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory holding the example plugins, installed for real with pip."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(HERE / "plugins" / "kit-example-good"),
            str(HERE / "plugins" / "kit-example-broken"),
        ],
        check=True,
        capture_output=True,
    )
    yield target


def kit(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("KIT_PLUGINS", "KIT_DISABLE_PLUGINS")}
    environ = {**base, "PYTHONPATH": str(site), **env}
    return subprocess.run([*KIT, *args], capture_output=True, text=True, env=environ, timeout=60)


def by_name(output: str) -> dict[str, dict[str, object]]:
    return {p["name"]: p for p in json.loads(output)}


def test_json_lists_the_working_and_the_broken_plugin(site: Path) -> None:
    result = kit(site, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = by_name(result.stdout)
    good = plugins["kit-example-good"]
    assert good["version"] == "1.2.3"
    assert good["error"] is None
    assert good["registers"] == {"discovery": ["example"]}
    assert good["hooks"] == ["kit_register_commands", "kit_register_discovery"]
    assert good["commands"] == ["hello"]
    broken = plugins["kit-example-broken"]
    assert broken["version"] == "0.0.1"
    assert "kit_example_missing_dependency" in str(broken["error"])
    assert "kitcore" not in plugins


def test_all_includes_the_core(site: Path) -> None:
    plugins = by_name(kit(site, "plugins", "--json", "--all").stdout)
    assert plugins["kitcore"]["builtin"] is True
    assert "static" in plugins["kitcore"]["registers"]["discovery"]  # type: ignore[index]


def test_table_shows_status_for_people(site: Path) -> None:
    result = kit(site, "plugins")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "HOOKS", "REGISTERS", "STATUS"]
    good = next(line for line in lines if line.startswith("kit-example-good"))
    assert "1.2.3" in good and "discovery: example" in good and good.endswith("ok")
    broken = next(line for line in lines if line.startswith("kit-example-broken"))
    assert "error: ModuleNotFoundError" in broken


def test_plugin_subcommand_runs(site: Path) -> None:
    result = kit(site, "hello", "kit")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello, kit"


def test_disable_and_only(site: Path) -> None:
    plugins = by_name(
        kit(site, "plugins", "--json", KIT_DISABLE_PLUGINS="kit-example-broken").stdout
    )
    assert plugins["kit-example-broken"]["disabled"] is True
    assert plugins["kit-example-broken"]["error"] is None
    assert plugins["kit-example-broken"]["disabled_by"] == "KIT_DISABLE_PLUGINS"
    only = by_name(kit(site, "plugins", "--json", KIT_PLUGINS="kit-example-broken").stdout)
    assert only["kit-example-good"]["disabled"] is True
    assert only["kit-example-good"]["disabled_by"] == "KIT_PLUGINS"
    table = kit(site, "plugins", KIT_PLUGINS="kit-example-broken").stdout.splitlines()
    good = next(line for line in table if line.startswith("kit-example-good"))
    assert good.endswith("disabled by KIT_PLUGINS")
    assert only["kit-example-broken"]["error"] is not None


def test_without_plugins_the_core_still_answers(tmp_path: Path) -> None:
    result = kit(tmp_path, "plugins", "--json", KIT_PLUGINS="nothing-at-all")
    assert result.returncode == 0
    assert all(p["disabled"] for p in json.loads(result.stdout))
