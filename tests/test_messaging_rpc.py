"""kitcore.messaging.rpc's Dispatcher: every bad request is a typed error reply, never a raise.

The transports (kit-nats, kit-amqp) hand it the bytes and headers they received, so
what is checked here holds on every broker; each plugin's tests send the same kinds of
bad input over its real broker.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from kitcore.messaging.rpc import ERROR_HEADER, TIMEOUT_HEADER, Dispatcher, Message, Reply
from kitcore.testing.messaging import EchoService


def _code(reply: Reply) -> str:
    assert reply.failed, reply.body
    wire: dict[str, Any] = msgspec.json.decode(reply.body)
    assert wire["code"] == reply.headers[ERROR_HEADER]
    return str(wire["code"])


BAD_BODIES = {
    "not JSON": b"{not json",
    "trailing garbage": b'{"s": "a"} x',
    "wrong type": b'{"s": 5}',
    "an array": b'["a"]',
    "null": b"null",
    "a string": b'"a"',
    "missing field": b"{}",
    "not UTF-8": b'{"s": "\xff\xfe"}',
    "deep nesting": b'{"s": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_malformed_payloads_are_invalid_arguments(body: bytes) -> None:
    dispatcher = Dispatcher(EchoService())
    assert _code(await dispatcher.handle(Message("uppercase", {}, body))) == "invalid_argument"
    reply = await dispatcher.handle(Message("uppercase", {}, b'{"s": "ok"}'))
    assert msgspec.json.decode(reply.body) == "OK"


async def test_unknown_methods_oversize_and_bad_headers() -> None:
    dispatcher = Dispatcher(EchoService(), max_payload=100)
    unknown = await dispatcher.handle(Message("nope", {}, b"{}"))
    assert _code(unknown) == "not_found"
    assert msgspec.json.decode(unknown.body)["details"]["methods"][0] == "context_value"
    assert _code(await dispatcher.handle(Message("", {}, b"{}"))) == "not_found"
    big = Message("uppercase", {}, b'{"s": "' + b"x" * 200 + b'"}')
    assert _code(await dispatcher.handle(big)) == "invalid_argument"
    for value in ("soon", "1_000", "9" * 40):
        bad = Message("uppercase", {TIMEOUT_HEADER: value}, b'{"s": "a"}')
        assert _code(await dispatcher.handle(bad)) == "invalid_argument"


async def test_an_explicit_decoder_refusing_is_an_invalid_argument() -> None:
    async def echo(request: Any) -> Any:
        return request

    def strict(body: bytes) -> Any:
        if not body.startswith(b"{"):
            raise ValueError("want an object")
        return msgspec.json.decode(body)

    dispatcher = Dispatcher().add("echo", echo, strict)
    assert _code(await dispatcher.handle(Message("echo", {}, b"[1]"))) == "invalid_argument"
    reply = await dispatcher.handle(Message("echo", {}, b'{"a": 1}'))
    assert msgspec.json.decode(reply.body) == {"a": 1}


async def test_failing_options_never_escape() -> None:
    def boom(*args: Any) -> None:
        raise RuntimeError("option failed")

    seen: list[str] = []
    dispatcher = Dispatcher(
        EchoService(),
        before=boom,
        error_handler=boom,
        error_encoder=boom,
        finalizer=[boom, lambda m, e, s: seen.append(type(e).__name__)],
    )
    reply = await dispatcher.handle(Message("uppercase", {}, b'{"s": "a"}'))
    assert _code(reply) == "internal" and b"option failed" not in reply.body
    assert seen == ["RuntimeError"]
    after = Dispatcher(EchoService(), after=boom)
    assert _code(await after.handle(Message("uppercase", {}, b'{"s": "a"}'))) == "internal"
