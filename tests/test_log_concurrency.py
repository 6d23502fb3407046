from __future__ import annotations

import asyncio
import json
import re
import threading
import time

import pytest

from kitcore.log import JSONWriter, LogfmtWriter, Logger

THREADS = 8
LINES_PER_THREAD = 200
TASKS = 8
LINES_PER_TASK = 50
MSG = "a line long enough to be written in several pieces"


class ChoppyStream:
    """A text stream that writes each string in two pieces, yielding between them.

    Without one lock around one write per line, lines from different threads would
    interleave here (a real file or pipe can do the same with long lines).
    """

    def __init__(self) -> None:
        self.pieces: list[str] = []

    def write(self, text: str) -> int:
        half = len(text) // 2
        self.pieces.append(text[:half])
        time.sleep(0)  # let another thread run mid-line
        self.pieces.append(text[half:])
        return len(text)

    def text(self) -> str:
        return "".join(self.pieces)


LOGFMT_LINE = re.compile(r'svc=s level=info who=(\w+) seq=(\d+) msg="(.*)"')


def parse_logfmt(line: str) -> dict[str, str]:
    match = LOGFMT_LINE.fullmatch(line)
    assert match is not None, f"not one whole line: {line!r}"
    assert match[3] == MSG, line
    return {"who": match[1], "seq": match[2]}


def parse_json(line: str) -> dict[str, str]:
    parsed: dict[str, str] = json.loads(line)
    assert list(parsed) == ["svc", "level", "who", "seq", "msg"] and parsed["msg"] == MSG, line
    return parsed


@pytest.mark.parametrize(
    ("make_writer", "parse"), [(LogfmtWriter, parse_logfmt), (JSONWriter, parse_json)]
)
async def test_threads_and_tasks_never_interleave_lines(make_writer, parse) -> None:  # type: ignore[no-untyped-def]
    stream = ChoppyStream()
    logger = Logger(make_writer(stream)).with_(svc="s")
    start = threading.Barrier(THREADS + 1)

    def thread_body(n: int) -> None:
        start.wait()
        for seq in range(LINES_PER_THREAD):
            logger.info(
                who=f"t{n}", seq=seq, msg="a line long enough to be written in several pieces"
            )

    async def task_body(n: int) -> None:
        for seq in range(LINES_PER_TASK):
            logger.info(
                who=f"a{n}", seq=seq, msg="a line long enough to be written in several pieces"
            )
            await asyncio.sleep(0)

    threads = [threading.Thread(target=thread_body, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    try:
        start.wait()
        await asyncio.gather(*(task_body(n) for n in range(TASKS)))
    finally:
        for thread in threads:
            thread.join()

    text = stream.text()
    assert text.endswith("\n")
    seen = [parse(line) for line in text.splitlines()]
    assert len(seen) == THREADS * LINES_PER_THREAD + TASKS * LINES_PER_TASK
    expected = {(f"t{n}", str(s)) for n in range(THREADS) for s in range(LINES_PER_THREAD)}
    expected |= {(f"a{n}", str(s)) for n in range(TASKS) for s in range(LINES_PER_TASK)}
    assert {(line["who"], str(line["seq"])) for line in seen} == expected
