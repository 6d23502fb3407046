"""Adapters between kit logging and the standard library's ``logging``, both ways.

``KitHandler`` sends records of libraries that use ``logging`` into a kit Logger;
``StdlibWriter`` sends kit lines into a ``logging.Logger`` for applications whose
handlers are already set up. Do not connect the two in a loop (a KitHandler on a logger
that a StdlibWriter writes to): each line would be forwarded forever.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kitcore.log.logfmt import format_logfmt
from kitcore.log.logger import Logger
from kitcore.log.valuer import caller_frame

_FORMATTER = logging.Formatter()
_TO_STDLIB = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _kit_level(levelno: int) -> str:
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


class KitHandler(logging.Handler):
    """A ``logging.Handler`` that writes each stdlib record as a kit line.

    The line has ``level`` (CRITICAL becomes error), ``msg``, ``logger`` (the record's
    logger name) and, when present, ``exc`` (the formatted traceback) and ``stack``.
    """

    def __init__(self, logger: Logger, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        """Forward ``record`` to the kit Logger; failures go to ``handleError`` as usual."""
        try:
            level = _kit_level(record.levelno)
            if not self.logger.enabled(level):
                return
            kv: dict[str, Any] = {"msg": record.getMessage(), "logger": record.name}
            if record.exc_info:
                formatter = self.formatter or _FORMATTER
                kv["exc"] = record.exc_text or formatter.formatException(record.exc_info)
            if record.stack_info:
                kv["stack"] = record.stack_info
            self.logger.log_at(level, **kv)
        except Exception:
            self.handleError(record)


class StdlibWriter:
    """A kit Writer that logs each line to a ``logging.Logger``.

    The kit ``level`` picks the stdlib level (debug, info, warn, error; INFO when absent
    or unknown); the rest of the line becomes the message, as logfmt. The record's file,
    line and function are those of the code that called the kit Logger.
    """

    __slots__ = ("_default", "_logger")

    def __init__(self, logger: logging.Logger, *, default_level: int = logging.INFO) -> None:
        self._logger = logger
        self._default = default_level

    def write(self, record: Mapping[str, Any]) -> None:
        """Log ``record`` to the stdlib logger, unless that logger ignores its level."""
        kit_level = record.get("level")
        level = self._default
        if isinstance(kit_level, str):
            level = _TO_STDLIB.get(kit_level.lower(), self._default)
        if not self._logger.isEnabledFor(level):
            return
        message = format_logfmt({k: v for k, v in record.items() if k != "level"})
        frame = caller_frame()
        path, line, func = "(unknown file)", 0, "(unknown function)"
        if frame is not None:
            path, line, func = frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name
        entry = self._logger.makeRecord(
            self._logger.name, level, path, line, message, (), None, func
        )
        self._logger.handle(entry)
