from __future__ import annotations

from typing import Any

import msgspec
import pytest

from kitcore import describe, endpoints, method
from kitcore.codec import decode
from kitcore.errors import InvalidArgument, NotFound


class Point(msgspec.Struct):
    x: int
    y: int


class Geometry:
    """Shapes and distances."""

    async def distance(self, a: Point, b: Point, *, squared: bool = False) -> float:
        """Distance between two points."""
        d2 = (a.x - b.x) ** 2 + (a.y - b.y) ** 2
        return float(d2 if squared else d2**0.5)

    @method(name="lookup", http="GET /shapes/{name}")
    async def find(self, name: str, limit: int | None = None) -> list[str]:
        if name == "none":
            raise NotFound(f"no shape {name!r}")
        return [name] * (limit or 1)

    async def _private(self) -> None:
        pass

    def sync_helper(self) -> None:
        """Not an endpoint: only async public methods are."""


def test_describe_derives_typed_requests_with_defaults() -> None:
    spec = describe(Geometry)
    assert spec.name == "Geometry"
    assert spec.description == "Shapes and distances."
    assert set(spec.methods) == {"distance", "lookup"}
    distance = spec.methods["distance"]
    assert distance.params == ("a", "b", "squared")
    assert distance.response_type is float
    assert distance.description == "Distance between two points."
    request = decode(b'{"a": {"x": 0, "y": 0}, "b": {"x": 3, "y": 4}}', distance.request_type)
    assert request.squared is False and request.b == Point(3, 4)
    lookup = spec.methods["lookup"]
    assert lookup.attr == "find" and lookup.options == {"http": "GET /shapes/{name}"}
    assert decode(b'{"name": "sq"}', lookup.request_type).limit is None


def test_spec_is_cached_per_class() -> None:
    assert describe(Geometry) is describe(Geometry())


async def test_endpoints_call_the_methods() -> None:
    eps = endpoints(Geometry())
    spec = describe(Geometry)
    req = spec.methods["distance"].request(Point(0, 0), Point(3, 4))
    assert await eps["distance"](req) == 5.0
    assert (
        await eps["distance"]({"a": {"x": 0, "y": 0}, "b": {"x": 1, "y": 1}, "squared": True})
        == 2.0
    )
    assert await eps["lookup"]({"name": "sq", "limit": 2}) == ["sq", "sq"]
    with pytest.raises(NotFound):
        await eps["lookup"]({"name": "none"})


async def test_bad_requests_are_invalid_arguments_naming_the_field() -> None:
    eps = endpoints(Geometry())
    with pytest.raises(InvalidArgument) as info:
        await eps["lookup"]({"name": 5})
    assert info.value.details["field"] == "$.name"
    with pytest.raises(InvalidArgument) as info:
        await eps["distance"]({"a": {"x": 0, "y": 0}})
    assert info.value.details["field"] == "$.b"
    with pytest.raises(InvalidArgument) as info:
        await eps["distance"]({"a": {"x": 0}, "b": {"x": 0, "y": 0}})
    assert info.value.details["field"] == "$.a.y"
    with pytest.raises(InvalidArgument, match="not valid UTF-8"):
        decode(b'{"name": "\xff"}', describe(Geometry).methods["lookup"].request_type)
    for body in (b"{", b"\xff", b"[]", b'{"a": {"x": "1", "y": 0}, "b": {"x": 0, "y": 0}}'):
        with pytest.raises(InvalidArgument):
            decode(body, describe(Geometry).methods["distance"].request_type)


def test_deep_nesting_is_an_invalid_argument_not_a_crash() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(InvalidArgument):
        decode(body, Any)


def test_request_binds_positional_and_keyword_arguments() -> None:
    m = describe(Geometry).methods["lookup"]
    assert m.request("a", 3) == m.request(name="a", limit=3)
    with pytest.raises(TypeError):
        m.request("a", 3, 4)


def test_variadic_parameters_are_rejected_clearly() -> None:
    class Bad:
        async def f(self, *args: int) -> None:
            pass

    with pytest.raises(TypeError, match="must be named"):
        describe(Bad)


def test_inherited_methods_are_endpoints_and_overrides_win() -> None:
    class Base:
        async def hello(self) -> str:
            return "base"

        async def other(self) -> str:
            return "other"

    class Child(Base):
        async def hello(self) -> str:
            return "child"

    assert set(describe(Child).methods) == {"hello", "other"}
