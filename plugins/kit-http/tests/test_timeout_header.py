"""``Kit-Timeout`` is whole milliseconds in plain digits, on every server; else a 400."""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp
import pytest
from kit_http import App
from kit_http.serve import SERVERS
from kit_http.testing import running

BAD = ["9" * 309, "+5", "1_000", "-1", "1.5", "0x10", "9" * 13, "", "5 5"]


@pytest.mark.parametrize("server", SERVERS)
async def test_bad_kit_timeout_is_a_400_naming_the_header(
    server: str, svc: SimpleNamespace, http: aiohttp.ClientSession
) -> None:
    async with running(App(svc.StringService()), server=server) as base:
        for value in BAD:
            headers = {"Kit-Timeout": value}
            async with http.post(f"{base}/sleep", json={"seconds": 0}, headers=headers) as r:
                body = await r.json()
                assert (r.status, body["code"], body["details"]) == (
                    400,
                    "invalid_argument",
                    {"header": "Kit-Timeout"},
                ), value
        headers = {"Kit-Timeout": "2500"}
        async with http.post(f"{base}/sleep", json={"seconds": 0}, headers=headers) as r:
            assert r.status == 200
            assert 0 < await r.json() <= 2.5
