"""Over kit-http, 429 from an erroring limiter and 503 from an open breaker carry
``Retry-After`` (kit-http with kit-ratelimit and kit-pybreaker)."""

from __future__ import annotations

import aiohttp
import pytest
from kit_http import App
from kit_http.serve import SERVERS
from kit_http.testing import running
from kit_pybreaker import PyBreaker
from kit_ratelimit import PyrateLimiter

from kitcore import Unavailable
from kitcore.circuitbreaker import circuit_breaker
from kitcore.ratelimit import erroring_limiter


async def echo(request: object) -> object:
    """The request."""
    return request


async def down(request: object) -> object:
    """Always fails, as a dead backend."""
    raise Unavailable("backend down")


@pytest.mark.parametrize("server", SERVERS)
async def test_limiter_429_and_breaker_503_carry_retry_after(server: str) -> None:
    limited = erroring_limiter(PyrateLimiter(0.1, burst=1))(echo)
    broken = circuit_breaker(PyBreaker(fail_max=1, reset_timeout=30))(down)
    app = App({"echo": limited, "down": broken})
    async with running(app, server=server) as base, aiohttp.ClientSession() as http:
        async with http.post(f"{base}/echo", json="a") as r:
            assert r.status == 200
        async with http.post(f"{base}/echo", json="a") as r:
            assert r.status == 429
            retry_after = (await r.json())["details"]["retry_after"]
            assert 0 < retry_after <= 10
            assert r.headers["Retry-After"] == str(int(-(-retry_after // 1)))
        async with http.post(f"{base}/down", json={}) as r:
            assert r.status == 503
            assert "Retry-After" not in r.headers  # the backend's own error: no advice
        async with http.post(f"{base}/down", json={}) as r:
            assert r.status == 503
            assert 0 < int(r.headers["Retry-After"]) <= 30
