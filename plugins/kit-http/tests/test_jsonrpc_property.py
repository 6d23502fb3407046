"""Property test: whatever JSON or bytes reach the JSON-RPC server, no 5xx and no traceback."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kit_http import jsonrpc
from kit_http.testing import ServerThread

from kitcore import InvalidArgument

CODES = {-32700, -32600, -32601, -32602, -32603} | set(range(-32016, -32000))


class Strings:
    """Methods with every kind of parameter a request can get wrong."""

    async def uppercase(self, s: str) -> str:
        """Upper-case ``s``; an empty one is refused."""
        if not s:
            raise InvalidArgument("Empty string")
        return s.upper()

    async def add(self, a: int, b: int = 0, tags: list[str] | None = None) -> int:
        """Add two ints."""
        return a + b

    async def echo(self, value: Any) -> Any:
        """Return ``value``."""
        return value


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["s", "a", "b", "tags", "value"]), children, max_size=4)
    ),
    max_leaves=20,
)
ids = st.none() | st.integers() | st.floats(allow_nan=False) | st.text() | json_values
members = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "", "1.0"]) | json_values,
        "method": st.sampled_from(["uppercase", "add", "echo", "nope"]) | json_values,
        "params": json_values,
        "id": ids,
    },
)
bodies = st.one_of(
    st.binary(max_size=500),
    json_values.map(lambda v: json.dumps(v).encode()),
    members.map(lambda v: json.dumps(v).encode()),
    st.lists(members | json_values, max_size=6).map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=1, max_value=100_000).map(lambda n: b"[" * n + b"]" * n),
    st.binary(min_size=1, max_size=20).map(
        lambda b: b'{"jsonrpc":"2.0","method":"echo","params":["' + b + b'"],"id":"' + b + b'"}'
    ),
)


@pytest.fixture(params=["uvicorn", "granian"])
def server(
    request: pytest.FixtureRequest, server_thread: Callable[..., ServerThread]
) -> Iterator[ServerThread]:
    app = jsonrpc.app(Strings(), body_timeout=5, max_body=64 * 1024)
    yield server_thread(app, request.param)


def check_reply(reply: Any) -> None:
    assert reply["jsonrpc"] == "2.0" and "id" in reply
    assert ("result" in reply) != ("error" in reply)
    if "error" in reply:
        assert reply["error"]["code"] in CODES
        assert set(reply["error"]["data"]) == {"code", "message", "details"}


def send(port: int, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read()
        if response.status == 204:
            assert payload == b""
        else:
            replies = json.loads(payload)
            for reply in replies if isinstance(replies, list) else [replies]:
                check_reply(reply)
        return response.status
    finally:
        conn.close()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_no_input_gives_a_5xx_a_traceback_or_a_stopped_server(
    server: ServerThread, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    caplog.set_level(logging.WARNING)
    with contextlib.suppress(ConnectionResetError, BrokenPipeError):
        assert send(server.port, body) < 500
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    ok = b'{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}'
    assert send(server.port, ok) == 200
