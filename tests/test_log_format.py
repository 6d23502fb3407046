from __future__ import annotations

import base64
import io
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest

from kitcore.errors import NotFound
from kitcore.log import JSONWriter, LogfmtWriter, Logger, format_json, format_logfmt, format_value
from kitcore.log.logfmt import format_float


class BadStr:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        return "BadStr()"


class Hopeless:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Cases of go-logfmt's encoder tests.
        ("", ""),
        ("v", "v"),
        (" ", '" "'),
        ("a b", '"a b"'),
        ("=", '"="'),
        ("a=b", '"a=b"'),
        ('"', '"\\""'),
        ("\\", "\\"),  # a backslash alone does not force quoting
        ("a\\ b", '"a\\\\ b"'),
        ("\n", '"\\n"'),
        ("\r\t", '"\\r\\t"'),
        ("\x00", '"\\u0000"'),
        ("\x10", '"\\u0010"'),
        ("\x1f", '"\\u001f"'),
        ("\x7f", "\x7f"),  # DEL is above space: go-logfmt leaves it alone
        ("µ", "µ"),
        ("日本", "日本"),
        ("\ufffd", '"\\ufffd"'),
        ("a\udc80b", '"a\\ufffdb"'),  # a lone surrogate is Python's invalid UTF-8
        ("null", '"null"'),
        ("nullx", "nullx"),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-42, "-42"),
        (10**20, "100000000000000000000"),
        (b"bytes", "bytes"),
        (b"two words", '"two words"'),
        (b"\xffab", '"\\ufffdab"'),
        (b"null", "null"),  # as go-logfmt: []byte("null") is not quoted
        (bytearray(b"ba"), "ba"),
        (ValueError("bad thing"), '"ValueError: bad thing"'),  # Go's err.Error(), with the type
        (NotFound("no user 7"), '"no user 7"'),
        ({"a": 1}, "\"{'a': 1}\""),
        ([1, 2], '"[1, 2]"'),
        (BadStr(), "BadStr()"),
        (datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc), "2024-05-01T12:00:00+00:00"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    ],
)
def test_logfmt_values_are_quoted_as_go_logfmt_does(value: Any, expected: str) -> None:
    assert format_value(value) == expected
    assert format_logfmt({"k": value}) == f"k={expected}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3.0, "3"),
        (0.5, "0.5"),
        (-2.25, "-2.25"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (123456.0, "123456"),
        (999999.5, "999999.5"),
        (1e6, "1e+06"),
        (-1e6, "-1e+06"),
        (1234567.0, "1.234567e+06"),
        (1e16, "1e+16"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (5e-324, "5e-324"),
        (-0.0, "-0"),
        (float("nan"), "NaN"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
    ],
)
def test_logfmt_floats_are_written_as_go_prints_them(value: float, expected: str) -> None:
    assert format_float(value) == expected
    assert format_value(value) == expected


class Shouting(str):
    """A str that prints otherwise than it compares."""

    def __str__(self) -> str:
        return self.upper()


def test_the_writer_writes_what_format_logfmt_returns_line_after_line() -> None:
    # LogfmtWriter remembers short string and null pairs. A remembered pair must never
    # stand in for another value that compares equal (1 == True == 1.0, "x" ==
    # Shouting("x")), nor may an unhashable value or a long string break the line.
    values: list[Any] = [
        True,
        1,
        1.0,
        "x",
        Shouting("x"),
        None,
        "null",
        "two words",
        [1],
        {"a": 1},
        "long " * 40,
        b"x",
        0,
        False,
        "",
        "x=y",
    ]
    out = io.StringIO()
    writer = LogfmtWriter(out)
    for _ in range(3):
        for value in values:
            writer.write({"k": value, "ts": "2024-05-01T12:00:00.123Z"})
    expected = [format_logfmt({"k": v, "ts": "2024-05-01T12:00:00.123Z"}) for v in values]
    assert out.getvalue().splitlines() == expected * 3
    assert [line.split()[0] for line in expected[:5]] == ["k=true", "k=1", "k=1", "k=x", "k=X"]


def test_the_writer_remembers_a_bounded_number_of_pairs() -> None:
    out = io.StringIO()
    writer = LogfmtWriter(out)
    for n in range(5000):
        writer.write({"request": f"r{n}", "level": "info"})
    assert len(writer._pairs) <= 1024  # memory stays bounded however many values pass
    assert out.getvalue().splitlines()[-1] == "request=r4999 level=info"


def test_a_value_that_cannot_be_printed_is_a_placeholder_not_an_exception() -> None:
    assert format_value(Hopeless()) == '"<unrepresentable Hopeless: RuntimeError>"'


def test_logfmt_keys_lose_the_characters_keys_cannot_hold() -> None:
    assert format_logfmt({"a b": 1, "c=d": 2, 'e"f': 3, "ok_1": 4}) == "ab=1 cd=2 ef=3 ok_1=4"
    assert format_logfmt({" ": 1, "=": 2, "kept": 3}) == "kept=3"
    assert format_logfmt({"ключ": "значение"}) == "ключ=значение"


def test_logfmt_lines_parse_back() -> None:
    values = ["plain", "with space", 'quote"d', "back\\slash", "new\nline", "eq=ual", "", "null"]
    out = io.StringIO()
    logger = Logger(LogfmtWriter(out))
    for value in values:
        logger.log(v=value)
    assert [parse_logfmt(line)["v"] for line in out.getvalue().splitlines()] == values


def parse_logfmt(line: str) -> dict[str, str]:
    """A strict parser for kit's logfmt lines: every character must belong to a pair."""
    pairs: dict[str, str] = {}
    i = 0
    while i < len(line):
        eq = line.index("=", i)
        key = line[i:eq]
        assert key and " " not in key and '"' not in key, f"bad key in {line!r}"
        i = eq + 1
        if line.startswith('"', i):
            end = i + 1
            while line[end] != '"':
                end += 2 if line[end] == "\\" else 1
            pairs[key] = json.loads(line[i : end + 1])
            i = end + 1
        else:
            end = line.find(" ", i)
            end = len(line) if end == -1 else end
            raw = line[i:end]
            assert '"' not in raw and "=" not in raw, f"bad bare value in {line!r}"
            pairs[key] = raw
            i = end
        if i < len(line):
            assert line[i] == " ", f"pairs not separated by one space in {line!r}"
            i += 1
    return pairs


@dataclass
class Point:
    x: int
    y: int


def test_json_lines_parse_back_with_native_values() -> None:
    out = io.StringIO()
    logger = Logger(JSONWriter(out)).with_(svc="s")
    stamp = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    logger.info(n=1, f=0.5, none=None, ok=True, items=[1, "a"], at=stamp, p=Point(1, 2), b=b"hi")
    line = out.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == {
        "svc": "s",
        "level": "info",
        "n": 1,
        "f": 0.5,
        "none": None,
        "ok": True,
        "items": [1, "a"],
        "at": "2024-05-01T12:00:00Z",
        "p": {"x": 1, "y": 2},
        "b": base64.b64encode(b"hi").decode(),
    }


def test_json_writes_exceptions_as_str_and_the_rest_as_repr() -> None:
    obj = BadStr()
    record = json.loads(
        format_json({"err": ValueError("boom"), "kit": NotFound("gone"), "obj": obj, "set": {1}})
    )
    assert record == {"err": "ValueError: boom", "kit": "gone", "obj": "BadStr()", "set": [1]}


def test_json_falls_back_to_repr_for_values_msgspec_rejects() -> None:
    record = {
        "ok": 1,
        "surrogate": "a\udc80",
        "nested": {"x": "b\udc80"},
        "h": Hopeless(),
        "deep": {"x": Hopeless()},
    }
    parsed = json.loads(format_json(record))
    assert parsed["ok"] == 1
    assert parsed["surrogate"] == repr("a\udc80")
    assert parsed["h"] == "<unrepresentable Hopeless: RuntimeError>"
    assert parsed["nested"] == repr({"x": "b\udc80"})
    assert parsed["deep"] == {"x": "<unrepresentable Hopeless: RuntimeError>"}


def test_json_keys_that_cannot_be_encoded_are_escaped() -> None:
    parsed = json.loads(format_json({"k\udc80": Hopeless()}))
    assert parsed == {"k\\udc80": "<unrepresentable Hopeless: RuntimeError>"}


def test_an_error_without_a_message_is_logged_by_its_type() -> None:
    class AuthFailedError(Exception):
        """As kazoo's: raised with no message."""

    assert format_value(AuthFailedError()) == "AuthFailedError"
    assert format_value(TimeoutError()) == "TimeoutError"
    assert format_value(OSError(13, "denied")) == '"PermissionError: [Errno 13] denied"'
    assert format_value(NotFound("gone")) == "gone"
    assert json.loads(format_json({"err": AuthFailedError()})) == {"err": "AuthFailedError"}
