"""Per-call cost of the production middlewares: logging, instrumenting, breaker, limiter.

.venv/bin/python bench/resilience.py     # writes the "resilience" section of BENCHMARKS.md

Each middleware wraps a trivial endpoint on its own, then all four together as a
service would run them (logging, instrumenting with Prometheus, circuit breaker,
erroring rate limiter, outermost first), against the bare endpoint. The Redis-backed
breaker and limiter are measured too, for scale (they pay a round trip per call).
"""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import abest_of, machine, write_section
from kit_pybreaker import PyBreaker
from kit_ratelimit import PyrateLimiter

from kitcore import Endpoint, Middleware, chain
from kitcore.circuitbreaker import ConsecutiveBreaker, circuit_breaker
from kitcore.log import LogfmtWriter, Logger, logging_middleware, timestamp
from kitcore.metrics import EndpointMetrics, MemoryProvider, Provider
from kitcore.ratelimit import TokenBucket, erroring_limiter

N = 150_000
ROUNDS = 10
REDIS_N = 2_000
REDIS_URL = "redis://127.0.0.1:6379/0"
NEVER_DENY = 1e9  # tokens a second (and as many in the bucket): the limiter always allows


async def leaf(request: Any) -> Any:
    return request


def metrics_provider() -> tuple[Provider, str]:
    """kit-prometheus when installed, else the core's in-memory provider (and say which)."""
    try:
        from kit_prometheus import PrometheusProvider
    except ImportError:
        return MemoryProvider(), "MemoryProvider (kit-prometheus not installed)"
    return PrometheusProvider(), "kit-prometheus"


class CountingSink(io.TextIOBase):
    """A text stream that counts what it is given and keeps none of it.

    Every log line is still formatted in full and written with one ``write`` call, but
    no buffer grows over the run (an ``io.StringIO`` reached 150k+ lines and its growth
    was part of the figure): what is measured is the middleware's own cost.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lines = 0
        self.chars = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.lines += 1
        self.chars += len(text)
        return len(text)


def logging(sink: CountingSink) -> Middleware:
    """The tutorial's logging middleware: one logfmt line per call, written to ``sink``."""
    logger = Logger(LogfmtWriter(sink)).with_(ts=timestamp)
    return logging_middleware(logger, "uppercase")


def redis_up() -> bool:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


WARM_UP = 1000
REPEAT = 3


async def per_call(endpoint: Endpoint, number: int = N) -> float:
    """Seconds per call: the best of a few runs, after a warm-up."""
    for _ in range(WARM_UP):
        await endpoint("x")
    return await abest_of(lambda: endpoint("x"), number=number, repeat=REPEAT)


async def interleaved(cases: list[tuple[str, Endpoint]]) -> list[tuple[str, float]]:
    """Each case's best over ROUNDS rounds that go through every case in turn.

    The machine is shared: going round the cases spreads a busy spell over all of them
    instead of spoiling one.
    """
    best = {label: float("inf") for label, _ in cases}
    for _ in range(ROUNDS):
        for label, endpoint in cases:
            best[label] = min(best[label], await per_call(endpoint, N // ROUNDS))
    return [(label, best[label]) for label, _ in cases]


async def measure() -> tuple[list[tuple[str, float]], str, CountingSink]:
    provider, provider_name = metrics_provider()
    logged_alone, logged_in_stack = CountingSink(), CountingSink()
    instrumenting = EndpointMetrics(provider, namespace="bench").middleware("uppercase")
    breaker = circuit_breaker(PyBreaker("bench", fail_max=5, reset_timeout=30))
    limiter = erroring_limiter(PyrateLimiter(NEVER_DENY, burst=int(NEVER_DENY)))
    cases: list[tuple[str, Endpoint]] = [
        ("bare endpoint (baseline)", leaf),
        ("logging (kitcore.log, logfmt with ts)", logging(logged_alone)(leaf)),
        (f"instrumenting (EndpointMetrics over {provider_name})", instrumenting(leaf)),
        ("breaker (kit-pybreaker, memory)", breaker(leaf)),
        (
            "breaker (core ConsecutiveBreaker, for scale)",
            circuit_breaker(ConsecutiveBreaker())(leaf),
        ),
        ("erroring limiter (kit-ratelimit, memory)", limiter(leaf)),
        (
            "erroring limiter (core TokenBucket, for scale)",
            erroring_limiter(TokenBucket(NEVER_DENY, int(NEVER_DENY)))(leaf),
        ),
        (
            "full stack: logging + instrumenting + breaker + erroring limiter",
            chain(logging(logged_in_stack), instrumenting, breaker, limiter)(leaf),
        ),
    ]
    rows = await interleaved(cases)
    # Every call was logged in full, alone and in the stack: the sink only skips keeping it.
    calls = ROUNDS * (WARM_UP + REPEAT * (N // ROUNDS))
    assert logged_alone.lines == logged_in_stack.lines == calls, (calls, logged_alone.lines)

    if redis_up():
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        shared_breaker = PyBreaker("bench", redis=client, redis_namespace="kit-bench:breaker")
        shared_limiter = PyrateLimiter(
            NEVER_DENY, burst=int(NEVER_DENY), redis=REDIS_URL, prefix="kit-bench:ratelimit"
        )
        try:
            rows.append(
                (
                    "breaker (kit-pybreaker, Redis state, blocking client)",
                    await per_call(circuit_breaker(shared_breaker)(leaf), REDIS_N),
                )
            )
            rows.append(
                (
                    "erroring limiter (kit-ratelimit, Redis, asyncio client)",
                    await per_call(erroring_limiter(shared_limiter)(leaf), REDIS_N),
                )
            )
        finally:
            await shared_limiter.aclose()
            client.delete(*client.keys("kit-bench:*"))
            client.close()
    else:
        rows.append(("Redis-backed breaker and limiter", float("nan")))
    return rows, provider_name, logged_in_stack


def main() -> None:
    rows, provider_name, logged = asyncio.run(measure())
    base = rows[0][1]
    full = next(t for label, t in rows if label.startswith("full stack"))
    lines = [
        "## Resilience middlewares",
        "",
        machine(),
        "",
        f"Per call over a trivial `async def` endpoint: the best run of {N // ROUNDS:,} calls, "
        f"{ROUNDS} rounds through every case (Redis rows: best of 3 runs of {REDIS_N:,}). "
        "Added = the row minus the bare endpoint. Log lines are formatted and written in "
        f"full to a stream that counts and discards them ({logged.lines:,} lines of "
        f"{logged.chars / logged.lines:.0f} characters on average in the full stack), "
        "so that no growing buffer is part of the figure.",
        "",
        "| endpoint | per call | added |",
        "|---|---|---|",
    ]
    for label, t in rows:
        if t != t:  # NaN: not measured
            lines.append(f"| {label} | not measured: no Redis at {REDIS_URL} | - |")
        else:
            lines.append(f"| {label} | {t * 1e6:.2f} us | {(t - base) * 1e6:.2f} us |")
    verdict = "met" if full <= 10e-6 else "NOT met"
    lines += [
        "",
        f"Full production stack: {full * 1e6:.2f} us per call (target <= 10 us: {verdict}); "
        f"metrics through {provider_name}.",
    ]
    body = "\n".join(lines)
    write_section("resilience", body)
    print(body)


if __name__ == "__main__":
    main()
