"""Shared fixtures: the test services (through ``svc``), raw HTTP sessions, server threads.

Test modules cannot import each other under ``--import-mode=importlib``, so the
services reach them through the ``svc`` fixture.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import msgspec
import pytest
from kit_http.testing import ServerThread

from kitcore import AlreadyExists, InvalidArgument, NotFound, context, method


class Address(msgspec.Struct):
    """A postal address."""

    id: str
    location: str = ""


class StringService:
    """The tutorial's string service, plus a few methods the tests need."""

    async def uppercase(self, s: str) -> str:
        """Upper-case ``s``."""
        if not s:
            raise InvalidArgument("Empty string")
        return s.upper()

    async def count(self, s: str) -> int:
        """Count the characters of ``s``."""
        return len(s)

    async def sleep(self, seconds: float) -> float | None:
        """Sleep, then return the deadline's remaining seconds seen at the start."""
        left = context.remaining()
        await asyncio.sleep(seconds)
        return left

    async def boom(self) -> None:
        """Fail unexpectedly."""
        raise RuntimeError("secret database password in this message")

    async def value(self, key: str) -> Any:
        """Return the request-scoped value ``key``."""
        return context.get(key)


class AddressBook:
    """A REST service: addresses by id, with path, query and body parameters."""

    def __init__(self) -> None:
        self.addresses: dict[str, Address] = {}

    @method(http="GET /addresses/{id}")
    async def get(self, id: str) -> Address:
        """Return one address."""
        if id not in self.addresses:
            raise NotFound(f"no address {id!r}")
        return self.addresses[id]

    @method(http="GET /addresses")
    async def find(self, limit: int = 10, tags: list[str] | None = None) -> list[str]:
        """List address ids (``tags`` echoed into the result)."""
        return sorted(self.addresses)[:limit] + [f"tag:{t}" for t in tags or ()]

    @method(http="PUT /addresses/{id}", body="address")
    async def put(self, id: str, address: Address) -> None:
        """Create an address; a second one with the same id conflicts."""
        if id in self.addresses:
            raise AlreadyExists(f"address {id!r} exists")
        self.addresses[id] = address

    @method(http="PATCH /addresses/{id}")
    async def move(self, id: str, location: str, number: int = 0) -> Address:
        """Change an address's location (the body holds location and number)."""
        address = await self.get(id)
        address.location = f"{location} {number}".strip()
        return address

    @method(http="DELETE /addresses/{id}")
    async def delete(self, id: str) -> None:
        """Delete an address."""
        if self.addresses.pop(id, None) is None:
            raise NotFound(f"no address {id!r}")


@pytest.fixture
def svc() -> SimpleNamespace:
    """The test services: ``svc.StringService``, ``svc.AddressBook``, ``svc.Address``."""
    return SimpleNamespace(StringService=StringService, AddressBook=AddressBook, Address=Address)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session for raw requests, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def server_thread() -> Iterator[Callable[..., ServerThread]]:
    """Start servers in threads; every one started is stopped after the test."""
    started: list[ServerThread] = []

    def start(app: Any, server: str = "uvicorn") -> ServerThread:
        thread = ServerThread(app, server).__enter__()
        started.append(thread)
        return thread

    yield start
    for thread in started:
        thread.__exit__()
