"""profilesvc over real HTTP: REST CRUD with path parameters and 404/400/409, raw and typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from examples.profilesvc.service import Address, Profile, ProfileService
from kitcore import AlreadyExists, InvalidArgument, NotFound, connect


async def test_rest_crud_and_error_mapping(example: Callable[..., Any]) -> None:
    svc = example("examples.profilesvc")
    url = f"{svc.url}/profiles"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"id": "1234", "name": "Go Kit"}) as r:
            assert r.status == 200
        async with http.post(url, json={"id": "1234"}) as r:
            assert (r.status, (await r.json())["code"]) == (409, "already_exists")
        async with http.get(f"{url}/1234") as r:
            assert await r.json() == {"id": "1234", "name": "Go Kit", "addresses": []}
        async with http.get(f"{url}/nope") as r:
            assert (r.status, (await r.json())["code"]) == (404, "not_found")
        async with http.put(f"{url}/1234", json={"id": "9"}) as r:
            assert (r.status, (await r.json())["message"]) == (400, "inconsistent IDs")
        async with http.put(f"{url}/1234", json={"id": "1234", "name": "Kit"}) as r:
            assert r.status == 200
        async with http.post(f"{url}/1234/addresses", json={"id": "home", "location": "A"}) as r:
            assert r.status == 200
        async with http.post(f"{url}/1234/addresses", json={"id": "home"}) as r:
            assert r.status == 409
        async with http.get(f"{url}/1234/addresses/home") as r:
            assert await r.json() == {"id": "home", "location": "A"}
        async with http.get(f"{url}/1234/addresses") as r:
            assert await r.json() == [{"id": "home", "location": "A"}]
        async with http.patch(f"{url}/1234", json={"name": "Go"}) as r:
            assert (await r.json())["name"] == "Go"
        async with http.patch(f"{url}/1234", json={"name": 5}) as r:
            assert (r.status, (await r.json())["details"]["field"]) == (400, "$.name")
        async with http.delete(f"{url}/1234/addresses/work") as r:
            assert r.status == 404
        async with http.delete(f"{url}/1234/addresses/home") as r:
            assert r.status == 200
        async with http.get(f"{url}/1234/addresses/home") as r:
            assert r.status == 404
        async with http.delete(f"{url}/1234") as r:
            assert r.status == 200
        async with http.delete(f"{url}/1234") as r:
            assert r.status == 404
    assert svc.log_lines("method=DELETE path=/profiles/1234 status=404")


async def test_typed_client(example: Callable[..., Any]) -> None:
    svc = example("examples.profilesvc")
    async with connect(ProfileService, svc.url) as profiles:
        await profiles.post_profile(Profile(id="a/b", name="slash"))
        with pytest.raises(AlreadyExists):
            await profiles.post_profile(Profile(id="a/b"))
        await profiles.post_address("a/b", Address(id="x", location="X"))
        assert await profiles.get_profile("a/b") == Profile("a/b", "slash", [Address("x", "X")])
        assert await profiles.get_address("a/b", "x") == Address("x", "X")
        patched = await profiles.patch_profile("a/b", addresses=[])
        assert patched == Profile("a/b", "slash", [])
        with pytest.raises(InvalidArgument):
            await profiles.put_profile("a/b", Profile(id="c"))
        await profiles.delete_profile("a/b")
        with pytest.raises(NotFound):
            await profiles.get_profile("a/b")
