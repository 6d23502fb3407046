"""The JSON forms both JSON transports share, read as Go's encoding/json reads them.

Go kit's servers decode ``{"a":1,"b":2}`` and ``{"A":1,"B":2}`` alike (Go matches field
names case-insensitively) and Go kit's clients send the capitalised form, so names are
folded to lower case before msgspec validates the values; unknown names are ignored.
Decode errors are msgspec's, for each transport to report its own way.
"""

from __future__ import annotations

from typing import Any

import msgspec

from examples.addsvc.endpoints import ConcatRequest, SumRequest

_object = msgspec.json.Decoder(dict[str, Any])
_encode = msgspec.json.Encoder().encode


def _folded(data: bytes) -> dict[str, Any]:
    return {key.lower(): value for key, value in _object.decode(data).items()}


def decode_sum(data: bytes) -> SumRequest:
    """``{"a": int, "b": int}`` in any letter case -> SumRequest."""
    return msgspec.convert(_folded(data), SumRequest)


def decode_concat(data: bytes) -> ConcatRequest:
    """``{"a": str, "b": str}`` in any letter case -> ConcatRequest."""
    return msgspec.convert(_folded(data), ConcatRequest)


def encode_request(request: SumRequest | ConcatRequest) -> bytes:
    """A request as ``{"a":..,"b":..}``."""
    return _encode(request)


def encode_value(v: Any) -> bytes:
    """A result as ``{"v":..}``."""
    return _encode({"v": v})


_sum_value = msgspec.json.Decoder(dict[str, int])
_concat_value = msgspec.json.Decoder(dict[str, str])


def decode_sum_value(data: bytes) -> int:
    """``{"v": int}`` -> the int (a missing ``v`` is 0)."""
    return _sum_value.decode(data).get("v", 0)


def decode_concat_value(data: bytes) -> str:
    """``{"v": str}`` -> the string (a missing ``v`` is empty)."""
    return _concat_value.decode(data).get("v", "")
