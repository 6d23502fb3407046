"""Structured logging: key/value lines in logfmt or JSON, as Go kit's ``log`` package.

Services log facts, not sentences: ``logger.info(msg="listening", addr=addr)``. A
Logger is built once, given its context with ``with_`` and passed in to whatever logs;
there is no global logger. Typical set-up::

    logger = Logger(LogfmtWriter(), level="info").with_(ts=timestamp, caller=caller)
    logger = logger.with_(svc="stringsvc")
    logger.info(msg="listening", addr="0.0.0.0:8080")
    # ts=2024-05-01T12:00:00.123Z caller=main.py:12 svc=stringsvc level=info msg=listening ...

``KitHandler`` and ``StdlibWriter`` connect kit logging with the standard library's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kitcore.log.duration import format_duration, format_duration_ns
from kitcore.log.jsonfmt import JSONWriter, format_json
from kitcore.log.level import DEBUG, ERROR, INFO, WARN, parse_level
from kitcore.log.logfmt import LogfmtWriter, format_logfmt, format_value
from kitcore.log.logger import Logger, NopLogger, nop_logger, with_level
from kitcore.log.middleware import logging_middleware
from kitcore.log.record import Writer
from kitcore.log.valuer import (
    CallerValuer,
    Valuer,
    caller,
    caller_at,
    format_timestamp,
    timestamp,
    utc_timestamp,
)

if TYPE_CHECKING:
    from kitcore.log.stdlib import KitHandler, StdlibWriter

__all__ = [
    "DEBUG",
    "ERROR",
    "INFO",
    "WARN",
    "CallerValuer",
    "JSONWriter",
    "KitHandler",
    "LogfmtWriter",
    "Logger",
    "NopLogger",
    "StdlibWriter",
    "Valuer",
    "Writer",
    "caller",
    "caller_at",
    "format_duration",
    "format_duration_ns",
    "format_json",
    "format_logfmt",
    "format_timestamp",
    "format_value",
    "logging_middleware",
    "nop_logger",
    "parse_level",
    "timestamp",
    "utc_timestamp",
    "with_level",
]


def __getattr__(name: str) -> Any:
    # The stdlib adapters load ``logging`` only for those who use them.
    if name in ("KitHandler", "StdlibWriter"):
        from kitcore.log import stdlib

        return getattr(stdlib, name)
    raise AttributeError(f"module 'kitcore.log' has no attribute {name!r}")
