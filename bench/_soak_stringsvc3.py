"""stringsvc3's ``main``, as bench/soak.py runs it: with task counts and registration.

``python bench/_soak_proxy.py [stringsvc3's options]``, and from the environment:

- ``KIT_SOAK_STATS=PATH``: on SIGUSR1, write ``{"tasks": N, "stall_ms": S, "gc_ms": G}``
  to PATH: the loop's asyncio tasks, so the soak can tell whether tasks pile up, and
  since the last reading the longest stall of the event loop (how late a 10 ms timer
  fired) and the longest garbage collection, so a failed call can be told apart: the
  proxy stalling, or its instances answering late;
- ``KIT_SOAK_REGISTER=URL HOST:PORT``: register HOST:PORT at the discovery URL from a
  thread of this process (stringsvc3 itself does not register), so the registration
  lives and dies with the process: SIGKILL lets its lease run out, SIGSTOP pauses it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

# The repository comes first on the path, not bench/: the examples import from it.
sys.path[0] = str(Path(__file__).resolve().parent.parent)


_longest = {"stall_ms": 0.0, "gc_ms": 0.0}
_gc_began = [0.0]


def _write_stats(signum: int, frame: FrameType | None) -> None:
    try:
        tasks = len(asyncio.all_tasks())
    except RuntimeError:  # no loop running yet
        tasks = 0
    stats = {"tasks": tasks, **{k: round(v, 1) for k, v in _longest.items()}}
    Path(os.environ["KIT_SOAK_STATS"]).write_text(json.dumps(stats))
    _longest.update(stall_ms=0.0, gc_ms=0.0)


def _time_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_began[0] = time.perf_counter()
    else:
        took = (time.perf_counter() - _gc_began[0]) * 1000
        _longest["gc_ms"] = max(_longest["gc_ms"], took)


async def _watch_stalls(period: float = 0.01) -> None:
    while True:
        before = time.perf_counter()
        await asyncio.sleep(period)
        late = (time.perf_counter() - before - period) * 1000
        _longest["stall_ms"] = max(_longest["stall_ms"], late)


def _watching_stalls(run: Any) -> Any:
    """``kit_http.serve.run``, with the stall watch running on its loop."""

    async def watched(coro: Any) -> Any:
        watch = asyncio.ensure_future(_watch_stalls())
        try:
            return await coro
        finally:
            watch.cancel()

    return lambda coro: run(watched(coro))


async def _registered(url: str, instance: str) -> None:
    from kitcore import sd
    from kitcore.log import Logger

    logger = Logger().with_(registrar=instance)
    registrar = sd.registrar(url, instance, logger=logger)
    await sd.register_with_backoff(registrar, logger=logger)
    logger.log(msg="registered", sd=url)
    await asyncio.Event().wait()  # the keep-alive task runs until the process ends


if __name__ == "__main__":
    if "KIT_SOAK_STATS" in os.environ:
        import kit_http.serve

        signal.signal(signal.SIGUSR1, _write_stats)
        gc.callbacks.append(_time_gc)
        # Before stringsvc3's main imports run: its loop runs the watch too.
        kit_http.serve.run = _watching_stalls(kit_http.serve.run)
    if "KIT_SOAK_REGISTER" in os.environ:
        url, instance = os.environ["KIT_SOAK_REGISTER"].split()
        thread = threading.Thread(
            target=asyncio.run, args=(_registered(url, instance),), daemon=True
        )
        thread.start()
    from examples.stringsvc3.__main__ import main

    main()
