"""What a server lets a client hold: header size, header-read time, the accept backlog.

A hostile or broken client can hold a server through its HTTP/1.1 parser long before any
app code runs: headers sent a byte a minute (slowloris), a header of 64 MiB, thousands
of half-open connections. Only the server can stop these, and each server can stop a
different subset, so one set of limits is given to ``serve()`` and each runner applies
what its server's settings allow (see ``SUPPORT``; the README has the table).
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024


@dataclass(frozen=True)
class ServerLimits:
    """Per-connection limits applied by ``serve()`` to whichever server runs the app."""

    header_timeout: float = 10.0
    """Seconds a client has to send the request line and every header; then it is closed."""
    max_header_bytes: int = 64 * KIB
    """Largest request line plus headers; larger ones get 431 (or 400) and a close."""
    backlog: int = 2048
    """Connections the kernel queues before they are accepted (capped by somaxconn)."""

    def __post_init__(self) -> None:
        if not self.header_timeout > 0:
            raise ValueError(f"header_timeout must be > 0, got {self.header_timeout!r}")
        if self.max_header_bytes < 8 * KIB:
            # hyper (granian) refuses a read buffer below 8 KiB.
            raise ValueError(f"max_header_bytes must be >= 8192, got {self.max_header_bytes!r}")
        if self.backlog < 1:
            raise ValueError(f"backlog must be >= 1, got {self.backlog!r}")


DEFAULT_LIMITS = ServerLimits()
"""The limits ``serve()`` applies when given none."""

SUPPORT: dict[str, dict[str, bool]] = {
    "granian": {
        "header_timeout": True,
        "max_header_bytes": True,
        "max_headers": True,  # hyper: 100 headers, fixed
        "backlog": True,
        "cl_te_closed": True,
    },
    "granian-asgi": {
        "header_timeout": True,
        "max_header_bytes": True,
        "max_headers": True,
        "backlog": True,
        "cl_te_closed": True,
    },
    "uvicorn": {
        # httptools (used when installed) has no header size limit and uvicorn no
        # header-read timeout; h11 has a size limit but answers a smuggled request.
        "header_timeout": False,
        "max_header_bytes": False,
        "max_headers": False,
        "backlog": True,
        "cl_te_closed": True,
    },
    "hypercorn": {
        # keep_alive_timeout bounds the whole head; read_timeout each read (body too).
        "header_timeout": True,
        "max_header_bytes": True,
        "max_headers": False,
        "backlog": True,
        "cl_te_closed": False,
    },
}
"""Which limit each server can enforce (True) with kit's settings; asserted by the tests."""
