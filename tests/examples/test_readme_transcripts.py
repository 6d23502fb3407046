"""The examples' READMEs show what the examples do: their transcripts are checked by a run.

Each README's ``$ curl ...`` lines are sent to the running example and must get the
reply printed under them; its log blocks (lines with ``caller=``) must appear, in order,
in the example's log. Addresses, durations and timestamps differ from run to run and are
compared as placeholders; everything else, ``caller=file.py:line`` included, must match,
so a line number that drifts fails here. Every ``caller=`` any README shows must name a
line that logs, also in READMEs whose runs need servers tested elsewhere (apigateway).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

_VARYING = [
    (re.compile(r"\b(took|ts)=\S+"), r"\1=*"),
    (re.compile(r"\b(listen|addr|instance|proxy_to)=(\"[^\"]*\"|\S+)"), r"\1=*"),
]


def normalize(line: str) -> str:
    """``line`` with what changes from run to run (addresses, durations) replaced by ``*``."""
    line = line.strip()
    for pattern, replacement in _VARYING:
        line = pattern.sub(replacement, line)
    return line


def code_blocks(readme: Path) -> list[list[str]]:
    """The lines of each fenced or indented code block of ``readme``."""
    return [
        block.strip("\n").splitlines()
        for block in re.findall(r"^```[a-z]*\n(.*?)^```", readme.read_text(), re.S | re.M)
    ]


def log_blocks(readme: Path) -> list[list[str]]:
    """The README's log transcripts: blocks whose every line names its caller."""
    return [b for b in code_blocks(readme) if b and all("caller=" in line for line in b)]


def curl_exchanges(readme: Path) -> Iterator[tuple[str, str, bytes | None, str]]:
    """``(method, path, body, reply)`` of each ``$ curl`` line and the reply under it."""
    for block in code_blocks(readme):
        for line, reply in zip(block, [*block[1:], ""], strict=True):
            if not line.startswith("$ curl"):
                continue
            args = shlex.split(line[2:])[1:]
            method, body, url = "GET", None, ""
            while args:
                arg = args.pop(0)
                if arg.startswith("-X"):
                    method = arg[2:] or args.pop(0)
                elif arg.startswith("-d"):
                    body = (arg[2:] or args.pop(0)).encode()
                    method = "POST" if method == "GET" else method
                elif not arg.startswith("-"):
                    url = arg
            yield method, "/" + url.split("/", 1)[1], body, reply


def assert_in_order(expected: list[str], log: str, where: str) -> None:
    """Each of ``expected`` appears in ``log``, in that order (other lines may come between)."""
    seen = [normalize(line) for line in log.splitlines()]
    at = 0
    for line in expected:
        want = normalize(line)
        try:
            at = seen.index(want, at) + 1
        except ValueError:
            raise AssertionError(
                f"{where}: README line not logged (in order):\n  {want}\n"
                f"log was:\n  " + "\n  ".join(seen)
            ) from None


async def _exchange(url: str, readme: Path) -> None:
    exchanges = list(curl_exchanges(readme))
    assert exchanges, f"{readme} shows no curl exchange"
    async with aiohttp.ClientSession() as http:
        for method, path, body, reply in exchanges:
            # What curl -d sends: the form content type, which kit-http reads as JSON.
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
            async with http.request(method, url + path, data=body, headers=headers) as r:
                got = (await r.text()).strip()
            assert got == reply, f"{readme}: {method} {path} {body!r}"


@pytest.mark.parametrize("name", ["stringsvc1", "profilesvc"])
async def test_curl_transcripts(name: str, example: Callable[..., Any]) -> None:
    await _exchange(example(f"examples.{name}").url, EXAMPLES / name / "README.md")


async def test_stringsvc2_log_transcript(example: Callable[..., Any]) -> None:
    svc = example("examples.stringsvc2")
    # The README shows the start-up line before the calls, as a user sees it; granian's
    # `started` is polled and can come after the port opens (a race named in the notes).
    svc.log_lines("msg=HTTP", timeout=20)
    async with aiohttp.ClientSession() as http:
        for path in ("uppercase", "count"):
            async with http.post(f"{svc.url}/{path}", json={"s": "hello, world"}) as r:
                assert r.status == 200
    (block,) = log_blocks(EXAMPLES / "stringsvc2" / "README.md")
    svc.log_lines("method=count")
    assert_in_order(block, svc.log(), "stringsvc2")


async def test_stringsvc3_log_transcript(example: Callable[..., Any]) -> None:
    instances = [example("examples.stringsvc3", wait=False) for _ in range(3)]
    instances.sort(key=lambda i: i.address)  # the proxy's round robin takes them in this order
    proxy = example("examples.stringsvc3", "--proxy", ",".join(i.address for i in instances))
    for instance in instances:
        instance.wait()
    async with aiohttp.ClientSession() as http:
        for s in ("foo", "bar", "baz"):
            async with http.post(f"{proxy.url}/uppercase", json={"s": s}) as r:
                assert await r.json() == {"v": s.upper()}
    block = log_blocks(EXAMPLES / "stringsvc3" / "README.md")[0]
    # The README writes each process's lines with its --listen; the run has free ports.
    by_listen = {":8001": instances[0], ":8002": instances[1], ":8003": instances[2]}
    by_listen[":8080"] = proxy
    proxy.log_lines("method=uppercase", count=3)
    for listen, process in by_listen.items():
        mine = [line for line in block if line.startswith(f"listen={listen} ")]
        assert mine, f"the README shows no line of {listen}"
        assert_in_order(mine, process.log(), f"stringsvc3 {listen}")


def _sources() -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in [*EXAMPLES.rglob("*.py"), *(ROOT / "plugins").glob("kit-*/kit_*/*.py")]:
        found.setdefault(path.name, []).append(path)
    return found


@pytest.mark.parametrize(
    "readme", sorted(EXAMPLES.glob("*/README.md")), ids=lambda p: p.parent.name
)
def test_every_caller_a_readme_shows_is_a_line_that_logs(readme: Path) -> None:
    sources = _sources()
    for file, line in re.findall(r"caller=(\w+\.py):(\d+)", readme.read_text()):
        candidates = sources.get(file, [])
        assert candidates, f"{readme}: caller={file} is no file of the examples or plugins"
        here = [p for p in candidates if p.is_relative_to(readme.parent)] or candidates
        texts = [p.read_text().splitlines() for p in here]
        logs = [t[int(line) - 1] for t in texts if int(line) <= len(t)]
        assert any(
            re.search(r"\blog(ger)?(\.\w+)?\(|\.(log|info|warn|error|debug)\(", t) for t in logs
        ), f"{readme}: caller={file}:{line} is not a logging line: {logs}"
