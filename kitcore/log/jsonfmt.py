"""JSON output: one object per line, encoded with msgspec.

Whatever msgspec encodes natively (numbers, strings, None, lists, dicts, datetimes,
UUIDs, dataclasses, Structs, bytes as base64) is written as such; exceptions are
written as ``str(exc)`` and any other value msgspec cannot encode as its ``repr()``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import Any, TextIO

import msgspec

from kitcore.log.record import error_text, safe_repr, safe_str


def _enc_hook(value: Any) -> Any:
    if isinstance(value, BaseException):
        return error_text(value)
    return safe_repr(value)


_ENCODER = msgspec.json.Encoder(enc_hook=_enc_hook)


def _encodable(value: Any) -> Any:
    try:
        _ENCODER.encode(value)
    except Exception:
        return safe_repr(value)
    return value


def _clean_key(key: Any) -> str:
    return safe_str(key).encode("utf-8", "backslashreplace").decode("utf-8")


def format_json(record: Mapping[str, Any]) -> str:
    """Return a record as one JSON object, without the newline; never raises."""
    try:
        return _ENCODER.encode(record).decode()
    except Exception:
        # A value msgspec rejects past enc_hook (a dict with tuple keys, a lone surrogate):
        # write that value as its repr and keep the others.
        safe = {_clean_key(key): _encodable(value) for key, value in record.items()}
        return _ENCODER.encode(safe).decode()


class JSONWriter:
    """Writes each record as one JSON object per line to a text stream (default: sys.stderr)."""

    __slots__ = ("_lock", "_stream")

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one line, with a single write call under the writer's lock."""
        line = format_json(record) + "\n"
        stream = sys.stderr if self._stream is None else self._stream
        with self._lock:
            stream.write(line)
