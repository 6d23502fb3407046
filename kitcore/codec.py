"""JSON codec shared by transports: msgspec decoding with errors that name the field.

Every transport decodes a request into a typed msgspec Struct the same way, so a bad
field reads the same whether it came over HTTP or gRPC: an ``InvalidArgument`` whose
details carry the field path (``$.s``) and msgspec's reason.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import msgspec

from kitcore.errors import InvalidArgument

_PATH = re.compile(r"at `(\$[^`]*)`")
_MISSING = re.compile(r"missing required field `([^`]*)`")
_BAD_UTF8 = re.compile(r"invalid utf-8", re.IGNORECASE)
_encoder = msgspec.json.Encoder()

encode = _encoder.encode
"""Encode a value as JSON bytes (msgspec)."""


@lru_cache(maxsize=1024)
def decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    """Return a cached JSON decoder for ``type_``."""
    return msgspec.json.Decoder(type_)


def invalid_argument(exc: msgspec.MsgspecError) -> InvalidArgument:
    """Turn a msgspec decode or validation error into InvalidArgument naming the field."""
    text = str(exc)
    if _BAD_UTF8.search(text):
        return _not_utf8(text)
    match = _PATH.search(text)
    details: dict[str, Any] = {"reason": text}
    path = match.group(1) if match else None
    missing = _MISSING.search(text)
    if missing:
        # The path names the object; the field is the missing member inside it.
        path = f"{path or '$'}.{missing.group(1)}"
    if path:
        details["field"] = path
    return InvalidArgument(f"invalid request: {text}", details=details)


def _not_utf8(reason: str) -> InvalidArgument:
    return InvalidArgument("invalid request: body is not valid UTF-8", details={"reason": reason})


def decode_failure(exc: Exception) -> InvalidArgument:
    """The InvalidArgument for a body that did not decode: bad JSON, types, UTF-8, depth.

    msgspec up to 0.19 raises UnicodeDecodeError for invalid UTF-8 inside a string and
    later releases a DecodeError; both read the same to the caller.
    """
    if isinstance(exc, msgspec.MsgspecError):
        return invalid_argument(exc)
    if isinstance(exc, UnicodeDecodeError):
        return _not_utf8(str(exc))
    return InvalidArgument("invalid request: JSON nested too deeply")


DECODE_ERRORS = (msgspec.MsgspecError, UnicodeDecodeError, RecursionError)
"""What decoding untrusted JSON with msgspec may raise; ``decode_failure`` maps each."""


def decode(data: bytes | bytearray | memoryview | str, type_: Any) -> Any:
    """Decode JSON ``data`` into ``type_``; malformed or invalid input raises InvalidArgument."""
    try:
        return decoder(type_).decode(data)
    except DECODE_ERRORS as exc:
        raise decode_failure(exc) from None


def convert(obj: Any, type_: Any) -> Any:
    """Convert builtin objects (dicts, lists, ...) into ``type_``, raising InvalidArgument."""
    try:
        return msgspec.convert(obj, type_)
    except msgspec.MsgspecError as exc:
        raise invalid_argument(exc) from None
