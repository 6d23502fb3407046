"""Route specs, the router, and the mapping of typed methods onto routes."""

from __future__ import annotations

import msgspec
import pytest
from kit_http.binding import Binding
from kit_http.routing import Router, RouteSpec

from kitcore import describe, method


def test_parse_route_specs() -> None:
    assert RouteSpec.parse("GET /profiles/{id}") == RouteSpec("GET", "/profiles/{id}", ("id",))
    assert RouteSpec.parse("/x") == RouteSpec("POST", "/x", ())
    assert RouteSpec.parse("delete /a/{b}/c/{d}").params == ("b", "d")
    assert str(RouteSpec.parse("put /a")) == "PUT /a"


@pytest.mark.parametrize(
    "bad", ["GET", "FETCH /x", "GET x", "GET /a/{b}/{b}", "GET /a/{b", "GET /a/b}", "A B C"]
)
def test_bad_route_specs(bad: str) -> None:
    with pytest.raises(ValueError, match="bad route"):
        RouteSpec.parse(bad)


def test_format_encodes_each_parameter() -> None:
    route = RouteSpec.parse("GET /p/{id}/a/{n}")
    assert route.format({"id": "a/b c", "n": 3}) == "/p/a%2Fb%20c/a/3"


def test_router_matches_static_before_templates() -> None:
    router: Router[str] = Router()
    router.add(RouteSpec.parse("GET /p/{id}"), "get")
    router.add(RouteSpec.parse("DELETE /p/{id}"), "delete")
    router.add(RouteSpec.parse("GET /p/new"), "new")
    assert router.match("/p/new") == ({"GET": "new"}, None)
    assert router.match("/p/7") == ({"GET": "get", "DELETE": "delete"}, {"id": "7"})
    assert router.match("/p/7/x") is None
    assert router.match("/q") is None
    with pytest.raises(ValueError, match="twice"):
        router.add(RouteSpec.parse("GET /p/{id}"), "again")
    with pytest.raises(ValueError, match="other parameter names"):
        router.add(RouteSpec.parse("PUT /p/{key}"), "put")
    assert router.routes() == ["GET /p/{id}", "DELETE /p/{id}", "GET /p/new"]


class Item(msgspec.Struct):
    name: str


class Shop:
    async def buy(self, item: Item, count: int = 1) -> int:
        return count

    @method(http="PUT /items/{sku}", body="item")
    async def put(self, sku: int, item: Item, dry_run: bool = False) -> None:
        pass

    @method(http="GET /items/{sku}")
    async def get(self, sku: int, fields: list[str] | None = None) -> Item:
        return Item("x")


def test_binding_default_route_is_the_fast_path() -> None:
    binding = Binding(describe(Shop).methods["buy"], prefix="/v1/")
    assert str(binding.route) == "POST /v1/buy"
    assert binding.direct
    request = describe(Shop).methods["buy"].request(Item("a"), 2)
    assert binding.encode(request) == ("/v1/buy", b'{"item":{"name":"a"},"count":2}')


def test_binding_round_trips_rest_requests() -> None:
    spec = describe(Shop)
    put = Binding(spec.methods["put"])
    request = spec.methods["put"].request(7, Item("a"), dry_run=True)
    target, body = put.encode(request)
    assert (target, body) == ("/items/7?dry_run=true", b'{"name":"a"}')
    assert put.decode(body or b"", {"sku": "7"}, b"dry_run=true") == request
    get = Binding(spec.methods["get"])
    request = spec.methods["get"].request(5, ["a", "b"])
    target, body = get.encode(request)
    assert (target, body) == ("/items/5?fields=a&fields=b", None)
    assert get.decode(b"", {"sku": "5"}, b"fields=a&fields=b") == request


def test_binding_rejects_routes_that_do_not_fit_the_method() -> None:
    class Bad:
        @method(http="GET /x/{nope}")
        async def get(self, id: str) -> None:
            pass

    class BadBody:
        @method(http="POST /x/{id}", body="id")
        async def post(self, id: str) -> None:
            pass

    with pytest.raises(TypeError, match="'nope', not a parameter"):
        Binding(describe(Bad).methods["get"])
    with pytest.raises(TypeError, match="not a non-path parameter"):
        Binding(describe(BadBody).methods["post"])
