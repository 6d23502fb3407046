"""The JSON-RPC 2.0 wire: request envelopes as decoded, responses as written.

The envelope keeps ``id`` and ``params`` as raw JSON (``msgspec.Raw``): the id is echoed
byte for byte (a string, a number of any size or form, or null, as the specification
asks), and the params are decoded once, straight into the method's request type.
"""

from __future__ import annotations

from typing import Any

import msgspec

from kit_http.jsonrpc.errors import error_object

VERSION = "2.0"
ACCEPTED_VERSIONS = frozenset({VERSION, ""})
"""``"2.0"``, and the empty string Go kit's own client sends (``jsonrpc.Client``)."""

NULL = msgspec.Raw(b"null")
_ID_STARTS = frozenset(b'"-0123456789n')
_encode = msgspec.json.Encoder().encode
_STR_DECODER = msgspec.json.Decoder(str)


class Envelope(msgspec.Struct):
    """One request object as received; ``UNSET`` members were absent."""

    jsonrpc: Any = msgspec.UNSET
    method: Any = msgspec.UNSET
    params: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    id: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


BODY_DECODER: msgspec.json.Decoder[Envelope | list[msgspec.Raw]] = msgspec.json.Decoder(
    Envelope | list[msgspec.Raw]
)
"""A body: one request object or a batch (each member decoded on its own)."""

ENVELOPE_DECODER = msgspec.json.Decoder(Envelope)
"""One member of a batch."""


def valid_id(raw: msgspec.Raw) -> bool:
    """True when ``raw`` is a string, a number or null: the ids the specification allows."""
    data = bytes(raw)
    if not data or data[0] not in _ID_STARTS:
        return False
    if data[0] == 0x22:  # a string: checked whole (escapes, UTF-8), as it is echoed
        try:
            _STR_DECODER.decode(data)
        except (msgspec.MsgspecError, UnicodeDecodeError):
            return False
    return True


def result(value: bytes, id_: msgspec.Raw) -> bytes:
    """A success response with the already encoded ``value``."""
    return b'{"jsonrpc":"2.0","result":%b,"id":%b}' % (value, bytes(id_))


def error(exc: BaseException, id_: msgspec.Raw = NULL, code: int | None = None) -> bytes:
    """An error response for ``exc`` (see ``kit_http.jsonrpc.errors``); ``code`` overrides."""
    obj = error_object(exc)
    if code is not None:
        obj["code"] = code
    return b'{"jsonrpc":"2.0","error":%b,"id":%b}' % (_encode(obj), bytes(id_))


def request(method: str, params: bytes | None, id_: int | str | None) -> bytes:
    """A request object (a notification when ``id_`` is None); ``params`` already encoded."""
    parts = [b'{"jsonrpc":"2.0","method":', _encode(method)]
    if params is not None:
        parts += [b',"params":', params]
    if id_ is not None:
        parts += [b',"id":', _encode(id_)]
    parts.append(b"}")
    return b"".join(parts)


class Reply(msgspec.Struct):
    """A response object as a client reads it; ``result`` stays raw for its own decoder."""

    jsonrpc: Any = msgspec.UNSET
    result: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    error: Any = msgspec.UNSET
    id: Any = None


REPLY_DECODER = msgspec.json.Decoder(Reply | list[Reply])
"""One response object, or a batch of them."""
