"""Multiprocess mode with two real worker processes sharing PROMETHEUS_MULTIPROC_DIR."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

from kit_prometheus import metrics_app, multiprocess_registry
from kit_prometheus.testing import call_asgi
from prometheus_client.parser import text_string_to_metric_families

WORKER = Path(__file__).with_name("prometheus_worker.py")


class Worker:
    """One worker process, driven line by line over its stdin and stdout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.stdin: IO[str] = proc.stdin  # type: ignore[assignment]
        self.stdout: IO[str] = proc.stdout  # type: ignore[assignment]

    def expect(self, line: str) -> None:
        got = self.stdout.readline().strip()
        assert got == line, f"worker {self.proc.pid} said {got!r}, expected {line!r}"

    def command(self, line: str) -> None:
        self.stdin.write(line + "\n")
        self.stdin.flush()

    def scrape(self) -> str:
        self.command("scrape")
        lines: list[str] = []
        for line in self.stdout:
            if line.strip() == "END":
                return "".join(lines)
            lines.append(line)
        raise AssertionError("worker exited while answering a scrape")

    def close(self) -> None:
        self.command("close")
        self.expect("closed")
        assert self.proc.wait(timeout=10) == 0


@contextmanager
def worker(directory: Path, jobs: int, weight: float) -> Iterator[Worker]:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(jobs), str(weight)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield Worker(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_two_workers_are_merged_and_a_dead_ones_live_gauge_goes(tmp_path: Path) -> None:
    with ExitStack() as stack:
        first = stack.enter_context(worker(tmp_path, jobs=5, weight=1))
        second = stack.enter_context(worker(tmp_path, jobs=8, weight=2))
        first.expect("ready")
        second.expect("ready")
        files = {p.name.rsplit("_", 1)[-1] for p in os.scandir(tmp_path) if p.is_file()}
        # each worker writes files of its own
        assert files == {f"{first.proc.pid}.db", f"{second.proc.pid}.db"}

        # Whichever worker answers the scrape reports both workers' counts.
        for view in (values(first.scrape()), values(second.scrape())):
            assert view[("jobs_total", (("kind", "a"),))] == 13
            assert view[("job_size_count", ())] == 13
            assert view[("job_size_bucket", (("le", "1.0"),))] == 2 + 2  # sizes 0 and 1
            assert view[("job_size_bucket", (("le", "10.0"),))] == 13  # sizes 0 to 7
            assert view[("job_size_sum", ())] == sum(range(5)) + sum(range(8))
            assert view[("job_weight_count", ())] == 13
            assert view[("job_weight_sum", ())] == 5 * 1 + 8 * 2
            assert view[("queued_jobs", ())] == (5 - 1) + (8 - 1)  # livesum
            assert view[("busy_workers", ())] == 3  # livesum of 1 and 2

        # So does a /metrics app reading the directory from outside the workers.
        app = metrics_app(multiprocess_registry(str(tmp_path)))
        status, _, body = await call_asgi(app)
        assert status == 200
        assert values(body.decode())[("jobs_total", (("kind", "a"),))] == 13

        first.close()  # marks its live gauge dead; its counts stay
        after = values(second.scrape())
        assert after[("busy_workers", ())] == 2
        assert after[("jobs_total", (("kind", "a"),))] == 13
        second.close()
