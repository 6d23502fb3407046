"""Shared by the benchmark scripts: timing loops and writing a section of BENCHMARKS.md."""

from __future__ import annotations

import platform
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = """# Benchmarks

Every figure here was measured by a script in `bench/` on the project's 2-core machine,
kit and the baseline side by side in one run. Each script rewrites only its own section.
Ratios are kit / baseline for costs (lower is better) unless the table says otherwise.
"""


def machine() -> str:
    """One line describing where the figures came from."""
    return (
        f"Python {platform.python_version()} on {platform.machine()}, {time.strftime('%Y-%m-%d')}"
    )


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between ``<!-- name:begin -->`` and ``<!-- name:end -->``."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
    block = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else (text.rstrip() + "\n\n" + block + "\n")
    )
    BENCHMARKS.write_text(text)


def best_of(func: Callable[[], Any], *, number: int, repeat: int = 7) -> float:
    """Seconds per call of ``func``: the best of ``repeat`` runs of ``number`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, time.perf_counter() - start)
    return best / number


async def abest_of(func: Callable[[], Awaitable[Any]], *, number: int, repeat: int = 7) -> float:
    """Seconds per call of the coroutine function ``func``: best of ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            await func()
        best = min(best, time.perf_counter() - start)
    return best / number
