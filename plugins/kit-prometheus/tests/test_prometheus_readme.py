"""The README's example, run as written against a real server: the names it promises."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
from kit_http.testing import running

README = Path(__file__).resolve().parent.parent / "README.md"


class StringService:
    """The service the example serves."""

    async def uppercase(self, s: str) -> str:
        """Upper-case ``s``."""
        return s.upper()


def _example() -> str:
    section = README.read_text().split("## Example", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no python block under ## Example"
    return match.group(1)


async def test_the_example_serves_each_metric_under_one_namespace() -> None:
    namespace: dict[str, Any] = {"StringService": StringService}
    exec(_example(), namespace)
    async with running(namespace["app"]) as url, aiohttp.ClientSession() as session:
        async with session.post(f"{url}/uppercase", json={"s": "a"}) as reply:
            assert reply.status == 200
        async with session.get(f"{url}/metrics") as reply:
            text = await reply.text()
    names = set(re.findall(r"^(\w+?)(?:_bucket|_count|_sum|_created)?[{ ]", text, re.M))
    counted = r'^stringsvc_requests_total\{[^}]*endpoint="uppercase"[^}]*\} 1\.0$'
    assert re.search(counted, text, re.M), text
    assert {"stringsvc_request_duration_seconds", "stringsvc_requests_in_flight"} <= names
    assert not any(n.startswith("stringsvc_stringsvc") for n in names), names
