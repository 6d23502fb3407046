"""stringsvc3's ``main``, as bench/soak.py runs it: with task counts and registration.

``python bench/_soak_proxy.py [stringsvc3's options]``, and from the environment:

- ``KIT_SOAK_STATS=PATH``: on SIGUSR1, write ``{"tasks": N}`` (the loop's asyncio
  tasks) to PATH, so the soak can tell whether tasks pile up over the run;
- ``KIT_SOAK_REGISTER=URL HOST:PORT``: register HOST:PORT at the discovery URL from a
  thread of this process (stringsvc3 itself does not register), so the registration
  lives and dies with the process: SIGKILL lets its lease run out, SIGSTOP pauses it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

# The repository comes first on the path, not bench/: the examples import from it.
sys.path[0] = str(Path(__file__).resolve().parent.parent)


def _write_tasks(signum: int, frame: FrameType | None) -> None:
    try:
        tasks = len(asyncio.all_tasks())
    except RuntimeError:  # no loop running yet
        tasks = 0
    Path(os.environ["KIT_SOAK_STATS"]).write_text(json.dumps({"tasks": tasks}))


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
        signal.signal(signal.SIGUSR1, _write_tasks)
    if "KIT_SOAK_REGISTER" in os.environ:
        url, instance = os.environ["KIT_SOAK_REGISTER"].split()
        thread = threading.Thread(
            target=asyncio.run, args=(_registered(url, instance),), daemon=True
        )
        thread.start()
    from examples.stringsvc3.__main__ import main

    main()
