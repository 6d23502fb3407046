"""Logger: structured key/value logging with context, levels and a level filter.

As Go kit's ``log`` and ``log/level`` packages: ``with_(**kv)`` returns a new Logger
whose key/values come first on every line, level helpers add ``level=<name>``, and a
filter drops lines below a level before anything is formatted. A Logger is immutable,
so one can be shared by every task and thread; its Writer does the formatting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kitcore.log.level import DEBUG, ERROR, INFO, NAMES, WARN, parse_level
from kitcore.log.logfmt import LogfmtWriter, Segment
from kitcore.log.record import Writer, safe_repr
from kitcore.log.valuer import Valuer


class Logger:
    """A structured logger: ``logger.info(msg="started", port=8080)`` writes one line.

    ``Logger(writer, level="info")`` drops debug lines; plain ``log(**kv)`` always passes.
    The default writer writes logfmt to ``sys.stderr``.
    """

    __slots__ = ("_context", "_level", "_logfmt", "_prepared", "_reserved", "_valuers", "_writer")

    def __init__(self, writer: Writer | None = None, *, level: str | None = None) -> None:
        self._writer: Writer = LogfmtWriter() if writer is None else writer
        self._level = 0 if level is None else parse_level(level)
        self._context: dict[str, Any] = {}
        self._valuers: tuple[tuple[str, Callable[[], Any]], ...] = ()
        self._reset_prepared()

    def _reset_prepared(self) -> None:
        # A logfmt line's context and level are the same line after line: the writer
        # formats them once per level (see LogfmtWriter.prepare), lazily.
        writer = self._writer
        self._logfmt = writer if isinstance(writer, LogfmtWriter) else None
        self._prepared: dict[str | None, tuple[Segment, ...]] = {}
        # Keys a call's own must not repeat for a prepared line: a repeated key replaces
        # the context's value in its place, which only the record path does.
        self._reserved = frozenset(self._context) | {"level"}

    def with_(self, **kv: Any) -> Logger:
        """Return a Logger that writes ``kv`` first on every line, after this one's context."""
        child = self._copy()
        child._context = {**self._context, **kv}
        child._valuers = tuple(
            (k, v.fn) for k, v in child._context.items() if isinstance(v, Valuer)
        )
        child._reset_prepared()
        return child

    def log(self, **kv: Any) -> None:
        """Write one line: the context, then ``kv``; never filtered by level."""
        self._emit(None, kv)

    def debug(self, **kv: Any) -> None:
        """Write one line with ``level=debug``, unless the filter drops debug."""
        if self._level <= DEBUG:
            self._emit("debug", kv)

    def info(self, **kv: Any) -> None:
        """Write one line with ``level=info``, unless the filter drops info."""
        if self._level <= INFO:
            self._emit("info", kv)

    def warn(self, **kv: Any) -> None:
        """Write one line with ``level=warn``, unless the filter drops warn."""
        if self._level <= WARN:
            self._emit("warn", kv)

    def error(self, **kv: Any) -> None:
        """Write one line with ``level=error``; only dropped by a filter above error."""
        if self._level <= ERROR:
            self._emit("error", kv)

    def log_at(self, level: str, /, **kv: Any) -> None:
        """Write one line at the level called ``level`` (for levels chosen at run time)."""
        value = parse_level(level)
        if self._level <= value:
            self._emit(NAMES[value], kv)

    def enabled(self, level: str) -> bool:
        """True when a line at ``level`` would be written (to skip costly preparation)."""
        return self._level <= parse_level(level)

    def _emit(self, level: str | None, kv: dict[str, Any]) -> None:
        logfmt = self._logfmt
        if logfmt is not None and self._reserved.isdisjoint(kv):
            segments = self._prepared.get(level)
            if segments is None:
                segments = self._prepared[level] = logfmt.prepare(self._context, level)
            logfmt.write_prepared(segments, kv)
            return
        record = {**self._context}
        for key, fn in self._valuers:
            try:
                record[key] = fn()
            except Exception as exc:
                record[key] = f"valuer failed: {safe_repr(exc)}"
        if level is not None:
            record["level"] = level
        if kv:
            record.update(kv)
        self._writer.write(record)

    def _copy(self) -> Logger:
        twin = object.__new__(type(self))
        twin._writer = self._writer
        twin._level = self._level
        twin._context = self._context
        twin._valuers = self._valuers
        twin._logfmt = self._logfmt
        twin._prepared = self._prepared
        twin._reserved = self._reserved
        return twin


def with_level(logger: Logger, level: str) -> Logger:
    """Return ``logger`` filtering out level-helper lines below ``level`` (replacing any filter)."""
    child = logger._copy()
    child._level = parse_level(level)
    return child


class NopLogger(Logger):
    """A Logger that writes nothing and costs next to nothing (for tests and defaults)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(_NOP_WRITER)

    def with_(self, **kv: Any) -> Logger:
        """Return this same logger: there is no context to keep."""
        return self

    def log(self, **kv: Any) -> None:
        """Do nothing."""

    def debug(self, **kv: Any) -> None:
        """Do nothing."""

    def info(self, **kv: Any) -> None:
        """Do nothing."""

    def warn(self, **kv: Any) -> None:
        """Do nothing."""

    def error(self, **kv: Any) -> None:
        """Do nothing."""

    def log_at(self, level: str, /, **kv: Any) -> None:
        """Do nothing."""

    def enabled(self, level: str) -> bool:
        """Always False: nothing is ever written."""
        return False


class _NopWriter:
    def write(self, record: Any) -> None:
        pass


_NOP_WRITER = _NopWriter()


def nop_logger() -> Logger:
    """Return a Logger that does nothing."""
    return NopLogger()
