"""The README's quick start demo runs, shows the round robin, and stops cleanly."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_three_instances_and_a_proxy() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '{"v":"FOO"}' in out
    assert '{"v":"","err":"Empty string"}' in out
    assert "all services stopped" in out
    # Each instance logged some of the proxied calls: the round robin.
    lines = re.findall(r"listen=127\.0\.0\.1:(\d+) caller=\S+ method=uppercase", out)
    assert len(set(lines)) == 4
