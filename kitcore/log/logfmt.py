"""logfmt output: ``key=value`` pairs, quoted and escaped exactly as go-logfmt does.

A value is quoted when it holds a space, a control character, ``=``, ``"`` or an
invalid character (U+FFFD, or a lone surrogate, Python's form of invalid UTF-8); inside
quotes ``\\``, ``"``, ``\\n``, ``\\r``, ``\\t`` are backslash-escaped, other control
characters become ``\\u00XX`` and invalid characters ``\\ufffd``. The string ``"null"``
is quoted so that it cannot be read back as None, which is written ``null``.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import date, datetime
from datetime import time as time_of_day
from typing import Any, TextIO

from kitcore.log.record import error_text, safe_repr, safe_str
from kitcore.log.valuer import Valuer

# Characters that force quoting, and (same set) those stripped from keys.
_SPECIAL = re.compile('[\x00- ="\ufffd\ud800-\udfff]')
_ESCAPED = re.compile('[\x00-\x1f"\\\\\ufffd\ud800-\udfff]')
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    escaped = _ESCAPES.get(char)
    if escaped is not None:
        return escaped
    if char < " ":
        return f"\\u00{ord(char):02x}"
    return "\\ufffd"


def _quoted(text: str) -> str:
    return '"' + _ESCAPED.sub(_escape, text) + '"'


def _plain_or_quoted(text: str) -> str:
    if _SPECIAL.search(text) is None:
        return text
    return _quoted(text)


def _text(text: str) -> str:
    if text == "null":
        return '"null"'
    return _plain_or_quoted(text)


_NON_FINITE = {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}


def format_float(value: float) -> str:
    """Format a float as Go's ``fmt.Sprint`` does: ``3``, ``0.25``, ``1e+06``, ``+Inf``, ``NaN``."""
    text = repr(value)
    if -1e6 < value < 1e6:
        if text.endswith(".0"):
            return text[:-2]
        return text  # with or without an exponent, Python and Go agree in this range
    if "e" in text:
        return text
    if text in _NON_FINITE:
        return _NON_FINITE[text]
    # Go switches to an exponent at 1e6, Python only at 1e16: keep the shortest digits.
    digits = text.lstrip("-").replace(".", "").strip("0")
    return f"{value:.{max(len(digits) - 1, 0)}e}"


def format_value(value: Any) -> str:
    """Return one value as logfmt writes it (quoted when needed); never raises."""
    kind = type(value)
    if kind is str:
        return _text(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if isinstance(value, float):
        return format_float(float(value))
    if isinstance(value, bytes | bytearray | memoryview):
        # As go-logfmt writes []byte: raw text, invalid UTF-8 shown as U+FFFD, "null" unquoted.
        return _plain_or_quoted(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, datetime | date | time_of_day):
        return _text(value.isoformat())
    if isinstance(value, BaseException):
        return _text(error_text(value))
    return _text(safe_str(value))


def format_key(key: str) -> str:
    """Return a key with the characters logfmt keys cannot hold removed (may become empty)."""
    if _SPECIAL.search(key) is None:
        return key
    return _SPECIAL.sub("", key)


def format_pair(key: str, value: Any) -> str:
    """Return ``key=value`` as logfmt writes it, or ``""`` when nothing of the key is left."""
    if not key.isidentifier():
        key = format_key(key)
        if not key:
            return ""
    # Fast paths, in the order a typical line needs them: plain strings (an identifier
    # needs no search for characters to quote), then null.
    if type(value) is str:
        if (value.isidentifier() or _SPECIAL.search(value) is None) and value != "null":
            return f"{key}={value}"
        return f"{key}={_quoted(value)}"
    if value is None:
        return f"{key}=null"
    return f"{key}={format_value(value)}"


def format_logfmt(record: Mapping[str, Any]) -> str:
    """Return a record as one logfmt line, without the newline; pairs whose key is empty go."""
    return " ".join([pair for pair in map(format_pair, record.keys(), record.values()) if pair])


_CACHED_VALUE_LENGTH = 64
_CACHED_PAIRS = 1024


_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes})


def _returning(value: Any) -> Callable[[], Any]:
    """A function returning ``value``, for a context value formatted at each line."""
    return lambda: value


Segment = str | tuple[str, Callable[[], Any]]
"""Part of a prepared line: logfmt text written as it is, or a valuer's key and function."""


class LogfmtWriter:
    """Writes each record as one logfmt line to a text stream (default: ``sys.stderr``)."""

    __slots__ = ("_acquire", "_last", "_pairs", "_release", "_stream")

    def __init__(self, stream: TextIO | None = None) -> None:
        # None means "sys.stderr at write time", so redirection and test capture work.
        self._stream = stream
        lock = threading.Lock()
        self._acquire, self._release = lock.acquire, lock.release  # cheaper than ``with``
        # Most pairs repeat line after line (err=null, ts within a millisecond), so
        # short string and null pairs are formatted once and then looked up. Only exact
        # str and None: 1 == True, and a str subclass may print differently.
        self._pairs: dict[tuple[str, Any], str] = {}
        # A valuer's last value and pair, by key: the timestamp returns the very same
        # string all through a millisecond.
        self._last: dict[str, tuple[Any, str]] = {}

    def write(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one line, with a single write call under the writer's lock."""
        self.write_prepared((), record)

    def prepare(self, context: Mapping[str, Any], level: str | None) -> tuple[Segment, ...]:
        """Format a Logger's context and level once, for :meth:`write_prepared`.

        Runs of pairs whose values cannot change (str, numbers, None...) become one
        string; Valuers stay functions, called per line, and so do other values (a list
        or an object may change after ``with_``, and is written as it is at each line).
        """
        segments: list[Segment] = []
        plain: list[str] = []
        items = list(context.items())
        if level is not None:
            items.append(("level", level))
        for key, value in items:
            if type(value) in _IMMUTABLE:
                if pair := format_pair(key, value):
                    plain.append(pair)
                continue
            if plain:
                segments.append(" ".join(plain))
                plain = []
            if isinstance(value, Valuer):
                segments.append((key, value.fn))
            else:
                segments.append((key, _returning(value)))
        if plain:
            segments.append(" ".join(plain))
        return tuple(segments)

    def write_prepared(self, segments: tuple[Segment, ...], kv: Mapping[str, Any]) -> None:
        """Write one line: prepared ``segments`` (valuers called now), then ``kv``.

        The caller guarantees that no key of ``kv`` is one of the segments' keys.
        """
        pairs = self._pairs
        parts: list[str] = []
        for segment in segments:
            if isinstance(segment, str):
                parts.append(segment)
                continue
            key, fn = segment
            try:
                value = fn()
            except Exception as exc:
                value = f"valuer failed: {safe_repr(exc)}"
            last = self._last.get(key)
            if last is not None and last[0] is value:
                pair = last[1]
            else:
                pair = format_pair(key, value)
                if type(value) is str:  # the same str is the same text; a list may change
                    self._last[key] = (value, pair)
            if pair:
                parts.append(pair)
        for item in kv.items():
            value = item[1]
            if value is None or type(value) is str:
                known = pairs.get(item)
                pair = self._pair(item) if known is None else known
            else:
                pair = format_pair(*item)
            if pair:
                parts.append(pair)
        line = " ".join(parts) + "\n"
        stream = sys.stderr if self._stream is None else self._stream
        self._acquire()
        try:
            stream.write(line)
        finally:
            self._release()

    def _pair(self, item: tuple[str, Any]) -> str:
        """Format a pair not remembered yet, and remember it if it may come back."""
        pair = format_pair(*item)
        value = item[1]
        # Values starting with a digit are mostly measurements and identifiers (took=,
        # request IDs), which rarely come back: remembering them would only churn.
        if value is None or (
            type(value) is str and len(value) <= _CACHED_VALUE_LENGTH and not value[:1].isdigit()
        ):
            pairs = self._pairs
            if len(pairs) >= _CACHED_PAIRS:
                pairs.clear()  # cheaper than tracking use; the steady pairs return
            pairs[item] = pair
        return pair
