"""``python limited_server.py SERVER PORT [FD_LIMIT]``: a tiny App behind ``serve()``.

The hostile-client tests run each server in its own process, so its file descriptors,
CPU time and log are its own; the header timeout is 1 s to keep the tests short.
"""

from __future__ import annotations

import resource
import sys

from kit_http import App
from kit_http.limits import ServerLimits
from kit_http.serve import run, serve


class Strings:
    """One method to call."""

    async def uppercase(self, s: str) -> str:
        """Upper-case ``s``."""
        return s.upper()


if __name__ == "__main__":
    if len(sys.argv) > 3:
        limit = int(sys.argv[3])
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    limits = ServerLimits(header_timeout=1)
    run(serve(App(Strings()), f"127.0.0.1:{sys.argv[2]}", server=sys.argv[1], limits=limits))
