"""The fleet simulator: kit's real client and server policies against simulated instances.

.venv/bin/python bench/fleet.py            # print the tables
.venv/bin/python bench/fleet.py --write    # also write the "fleet" section and bench/fleet.png

One process, virtual time (``bench/_sim.py``: the loop's clock jumps to the next timer,
nothing sleeps on the wall clock), open-loop Poisson arrivals, seeded randomness: the
same seed prints the same tables. Every scenario runs every policy on the same arrival
times. A policy is a pair of small builders from the table ``POLICIES``: ``client``
turns the instances' endpoints into the caller's Endpoint (kit's real Retry, balancers,
PeakEwma, OutlierEjection, Hedge, RetryBudget, AttemptTimeout), ``server`` gives each
instance its server middleware (kit's real concurrency limits). Adding a part is one
builder, e.g. a retry budget::

    def budget(endpoints, sim):
        return Retry(3, sim.timeout, RoundRobin(FixedEndpointer(endpoints)), budget=...)

    POLICIES.append(Policy("budget", "round robin + Retry(3) within a retry budget", budget))

Columns: latency percentiles of every request (successes and failures, as the caller
waited for them), the error rate, load amplification (attempts sent / requests),
goodput (successful requests per second) and the share of attempts that reached the
scenario's marked instance (the slow one, the overloaded one).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _sim
from _report import machine, write_section

from kitcore import Endpoint, Middleware, chain
from kitcore.concurrency import (
    FixedLimit,
    GradientLimit,
    Limiter,
    MinLatency,
    concurrency_limit,
    deadline_aware,
)
from kitcore.lb import (
    AttemptTimeout,
    Hedge,
    OutlierEjection,
    PeakEwma,
    PowerOfTwoChoices,
    Retry,
    RetryBudget,
    RoundRobin,
)
from kitcore.sd import FixedEndpointer
from kitcore.testing.virtual_time import VirtualTimeLoop

PLOT = Path(__file__).resolve().parent / "fleet.png"


@dataclass
class Sim:
    """What a builder may use: the loop's clock, seeded randomness, the call timeout."""

    loop: asyncio.AbstractEventLoop
    seed: str
    timeout: float = 1.0
    """Retry's overall deadline per request, seconds."""

    def rng(self, name: str) -> random.Random:
        """A random source of its own for ``name``, fixed by the run's seed."""
        return random.Random(f"{self.seed}:{name}")

    def clock(self) -> float:
        """The virtual clock."""
        return self.loop.time()


ClientBuilder = Callable[[Sequence[Endpoint], Sim], Endpoint]
ServerBuilder = Callable[[Sim, str], "Protection"]


@dataclass(frozen=True)
class Policy:
    """One row of the tables: how the caller calls, and how each server protects itself."""

    name: str
    doc: str
    client: ClientBuilder
    server: ServerBuilder | None = None


# -- client builders ---------------------------------------------------------------------------


def gokit(endpoints: Sequence[Endpoint], sim: Sim) -> Endpoint:
    """Go kit's client: round robin + Retry(3) within one deadline."""
    return Retry(3, sim.timeout, RoundRobin(FixedEndpointer(endpoints)))


def budget(endpoints: Sequence[Endpoint], sim: Sim) -> Endpoint:
    """Round robin + Retry(3) within a retry budget (kitcore.lb.RetryBudget's defaults)."""
    return Retry(
        3, sim.timeout, RoundRobin(FixedEndpointer(endpoints)), budget=RetryBudget(clock=sim.clock)
    )


def timeouts(endpoints: Sequence[Endpoint], sim: Sim) -> Endpoint:
    """Round robin + Retry(3) with per-attempt timeouts (kitcore.lb.AttemptTimeout)."""
    return Retry(
        3,
        sim.timeout,
        RoundRobin(FixedEndpointer(endpoints)),
        attempt_timeout=AttemptTimeout(clock=sim.clock),
    )


def p2c(endpoints: Sequence[Endpoint], sim: Sim) -> Endpoint:
    """PowerOfTwoChoices by calls in flight + Retry(3)."""
    balancer = PowerOfTwoChoices(FixedEndpointer(endpoints), rng=sim.rng("p2c"))
    return Retry(3, sim.timeout, balancer)


def ewma(endpoints: Sequence[Endpoint], sim: Sim) -> Endpoint:
    """P2C over peak-EWMA latency times calls in flight (kitcore.lb.PeakEwma) + Retry(3)."""
    balancer = PeakEwma(FixedEndpointer(endpoints), rng=sim.rng("p2c"), clock=sim.clock)
    return Retry(3, sim.timeout, balancer)


def outliers(endpoints: Sequence[Endpoint], sim: Sim) -> Endpoint:
    """Round robin over OutlierEjection's defaults + Retry(3)."""
    source = OutlierEjection(FixedEndpointer(endpoints), clock=sim.clock)
    return Retry(3, sim.timeout, RoundRobin(source))


def hedge(endpoints: Sequence[Endpoint], sim: Sim) -> Endpoint:
    """Round robin, hedged after the recent p98 (2 % extra load) + Retry(3)."""
    balancer = Hedge(RoundRobin(FixedEndpointer(endpoints)), extra_load=0.02, clock=sim.clock)
    return Retry(3, sim.timeout, balancer)


def connect_default(endpoints: Sequence[Endpoint], sim: Sim) -> Endpoint:
    """What kitcore.connect chains by default, every call idempotent (so hedged)."""
    source = OutlierEjection(FixedEndpointer(endpoints), clock=sim.clock)
    balancer = Hedge(
        PeakEwma(source, rng=sim.rng("p2c"), clock=sim.clock), extra_load=0.02, clock=sim.clock
    )
    return Retry(
        3,
        sim.timeout,
        balancer,
        budget=RetryBudget(clock=sim.clock),
        attempt_timeout=AttemptTimeout(clock=sim.clock),
    )


# -- server builders ---------------------------------------------------------------------------


@dataclass
class Protection:
    """What one instance's server does before running a call: a limit, a deadline floor."""

    limiter: Limiter | None = None
    min_latency: MinLatency | None = None

    def middleware(self) -> Middleware | None:
        """The Endpoint middleware form (kit_http.admission.Admission is the HTTP one)."""
        parts: list[Middleware] = []
        if self.min_latency is not None:
            parts.append(deadline_aware(self.min_latency, "work"))
        if self.limiter is not None:
            parts.append(concurrency_limit(self.limiter))
        return chain(*parts) if parts else None


def max_in_flight(limit: int) -> ServerBuilder:
    """A plain max-in-flight limit of ``limit`` calls per instance."""

    def build(sim: Sim, instance: str) -> Protection:
        return Protection(Limiter(FixedLimit(limit), clock=sim.clock))

    return build


def adaptive(sim: Sim, instance: str) -> Protection:
    """Envoy's gradient controller per instance (kitcore.concurrency.GradientLimit)."""
    limit = GradientLimit(clock=sim.clock, rng=sim.rng(f"gradient:{instance}"))
    return Protection(Limiter(limit, clock=sim.clock))


def deadline(sim: Sim, instance: str) -> Protection:
    """Refuse calls whose remaining deadline is below the method's minimum latency."""
    return Protection(min_latency=MinLatency(clock=sim.clock))


def protected(sim: Sim, instance: str) -> Protection:
    """Deadline-aware refusal in front of the adaptive limit."""
    return Protection(adaptive(sim, instance).limiter, MinLatency(clock=sim.clock))


POLICIES: list[Policy] = [
    Policy("gokit", "Go kit: round robin + Retry(3)", gokit),
    Policy("budget", "gokit + a retry budget (10 s, 10/s, 20 %)", budget),
    Policy("timeouts", "gokit + per-attempt timeouts", timeouts),
    Policy("p2c", "PowerOfTwoChoices by calls in flight + Retry(3)", p2c),
    Policy("ewma", "P2C over peak EWMA + Retry(3)", ewma),
    Policy("outliers", "gokit over outlier ejection", outliers),
    Policy("hedge", "gokit, hedged at the p98 (2 % extra load)", hedge),
    Policy("connect", "kitcore.connect's defaults: all of the above", connect_default),
    Policy("max-in-flight", "gokit client; servers: max 8 in flight", gokit, max_in_flight(8)),
    Policy("adaptive", "gokit client; servers: gradient limit", gokit, adaptive),
    Policy("deadline", "gokit client; servers: deadline-aware", gokit, deadline),
    Policy("all", "connect client; servers: deadline-aware + gradient", connect_default, protected),
]
"""The policies compared, baseline first. Client-side parts join as one builder each."""


# -- scenarios ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A fleet and its load: instance behaviours by name, the rate, the instance to watch."""

    name: str
    doc: str
    behaviours: Callable[[Sim], list[tuple[str, _sim.Work]]]
    rate: float
    duration: float = 10.0
    watch: str | None = None
    capacity: float | None = None
    """Calls/s the fleet can serve, when finite (goodput is reported against it)."""


def _healthy_fleet(n: int, sim: Sim) -> list[tuple[str, _sim.Work]]:
    return [(f"h{i}", _sim.healthy(sim.rng(f"h{i}"))) for i in range(n)]


def _overloaded_capacity() -> float:
    loop = VirtualTimeLoop()
    try:
        return _sim.overloaded(random.Random(0), loop)[1]
    finally:
        loop.close()


SCENARIOS: list[Scenario] = [
    Scenario(
        "outage",
        "5 instances, all failing every call",
        lambda sim: [(f"dead{i}", _sim.failing(sim.rng(f"dead{i}"))) for i in range(5)],
        rate=500,
    ),
    Scenario(
        "black-hole",
        "5 instances, one a black hole (accepts calls, never answers)",
        lambda sim: [*_healthy_fleet(4, sim), ("hole", _sim.black_hole())],
        rate=500,
        watch="hole",
    ),
    Scenario(
        "hiccups",
        "5 instances, one with 10% 100 ms hiccups",
        lambda sim: [*_healthy_fleet(4, sim), ("hiccup", _sim.hiccups(sim.rng("hiccup")))],
        rate=500,
        watch="hiccup",
    ),
    Scenario(
        "slow",
        "5 instances, one 10x slower",
        lambda sim: [
            *_healthy_fleet(4, sim),
            ("slow", _sim.healthy(sim.rng("slow"), median=0.100)),
        ],
        rate=500,
        watch="slow",
    ),
    Scenario(
        "overload",
        "1 instance of finite capacity (4 workers, 20 ms), offered 1.5x its capacity",
        lambda sim: [("busy", _sim.overloaded(sim.rng("busy"), sim.loop)[0])],
        rate=1.5 * _overloaded_capacity(),
        watch="busy",
        capacity=_overloaded_capacity(),
    ),
    Scenario(
        "mixed",
        "healthy, 10x slow, hiccups, failing, finite capacity (~200/s)",
        lambda sim: [
            ("healthy", _sim.healthy(sim.rng("healthy"))),
            ("slow", _sim.healthy(sim.rng("slow"), median=0.100)),
            ("hiccup", _sim.hiccups(sim.rng("hiccup"))),
            ("dead", _sim.failing(sim.rng("dead"))),
            ("busy", _sim.overloaded(sim.rng("busy"), sim.loop)[0]),
        ],
        rate=900,
        watch="busy",
    ),
]


# -- running -----------------------------------------------------------------------------------


@dataclass
class Result:
    """One policy in one scenario."""

    scenario: str
    policy: str
    requests: int
    attempts: int
    errors: int
    latencies: list[float]
    duration: float
    watched_attempts: int = 0
    errors_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        """Failed requests / requests."""
        return self.errors / self.requests if self.requests else math.nan

    @property
    def amplification(self) -> float:
        """Attempts sent / requests."""
        return self.attempts / self.requests if self.requests else math.nan

    @property
    def goodput(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.errors) / self.duration

    @property
    def watched_share(self) -> float:
        """Share of the attempts that reached the watched instance."""
        return self.watched_attempts / self.attempts if self.attempts else math.nan

    def p(self, pct: float) -> float:
        """A latency percentile in seconds."""
        return _sim.percentile(self.latencies, pct)


def measured(
    scenario: Scenario, policy: Policy, outcomes: Sequence[_sim.Outcome], attempts: dict[str, int]
) -> Result:
    """The Result of one run: what the callers saw and what each instance received."""
    kinds: dict[str, int] = {}
    for o in outcomes:
        if o.error is not None:
            kinds[o.error] = kinds.get(o.error, 0) + 1
    return Result(
        scenario.name,
        policy.name,
        requests=len(outcomes),
        attempts=sum(attempts.values()),
        errors=sum(kinds.values()),
        latencies=[o.latency for o in outcomes],
        duration=scenario.duration,
        watched_attempts=attempts.get(scenario.watch or "", 0),
        errors_by_kind=kinds,
    )


def simulate(scenario: Scenario, policy: Policy, seed: int = 1) -> Result:
    """Run one policy through one scenario on a fresh virtual-time loop."""

    async def main() -> Result:
        loop = asyncio.get_running_loop()
        sim = Sim(loop, f"{seed}:{scenario.name}")
        instances = [
            _sim.Instance(
                name, work, policy.server(sim, name).middleware() if policy.server else None
            )
            for name, work in scenario.behaviours(sim)
        ]
        client = policy.client([i.endpoint() for i in instances], sim)
        outcomes = await _sim.open_loop(
            client, scenario.rate, scenario.duration, sim.rng("arrivals")
        )
        # Servers may still be working on requests their callers abandoned: let them end.
        current = asyncio.current_task()
        while others := asyncio.all_tasks() - {current}:
            await asyncio.wait(others)
        return measured(scenario, policy, outcomes, {i.name: i.attempts for i in instances})

    result: Result = _sim.run(main)
    return result


# -- reporting ---------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def table(scenario: Scenario, results: Sequence[Result]) -> str:
    """The markdown table of one scenario."""
    watch = f" | to {scenario.watch}" if scenario.watch else ""
    cap = " | goodput / capacity" if scenario.capacity else ""
    lines = [
        f"**{scenario.name}**: {scenario.doc}; {scenario.rate:.0f} requests/s for "
        f"{scenario.duration:.0f} s (virtual), timeout {Sim.timeout:.0f} s.",
        "",
        f"| policy | p50 ms | p99 ms | p99.9 ms | errors | load | goodput/s{watch}{cap} |",
        "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * (bool(watch) + bool(cap)),
    ]
    for r in results:
        row = (
            f"| {r.policy} | {_ms(r.p(50))} | {_ms(r.p(99))} | {_ms(r.p(99.9))} | "
            f"{r.error_rate:.1%} | {r.amplification:.2f}x | {r.goodput:.0f}"
        )
        if scenario.watch:
            row += f" | {r.watched_share:.1%}"
        if scenario.capacity:
            row += f" | {r.goodput / scenario.capacity:.0%}"
        lines.append(row + " |")
    return "\n".join(lines)


def plot(results: Sequence[Result], path: Path) -> None:
    """p99 latency and load amplification per policy, one group of bars per scenario."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = list(dict.fromkeys(r.scenario for r in results))
    policies = list(dict.fromkeys(r.policy for r in results))
    by = {(r.scenario, r.policy): r for r in results}
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7.5), sharex=True)
    colours = plt.get_cmap("tab20").colors  # one per policy: the default cycle repeats at 10
    width = 0.8 / len(policies)
    for k, policy in enumerate(policies):
        xs = [i + (k - (len(policies) - 1) / 2) * width for i in range(len(scenarios))]
        colour = colours[k % len(colours)]
        p99s = [by[(s, policy)].p(99) * 1000 for s in scenarios]
        top.bar(xs, p99s, width, color=colour, label=policy)
        bottom.bar(xs, [by[(s, policy)].amplification for s in scenarios], width, color=colour)
    top.set_yscale("log")
    top.set_ylabel("p99 latency, ms (log)")
    bottom.set_ylabel("load amplification\n(attempts / requests)")
    bottom.axhline(1.0, color="grey", linewidth=0.5)
    bottom.set_xticks(range(len(scenarios)), scenarios)
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=colours[k % len(colours)]) for k in range(len(policies))
    ]
    fig.legend(handles, policies, loc="lower center", ncol=len(policies) // 2, fontsize=8)
    fig.suptitle("kit fleet simulator: p99 and load amplification per policy (virtual time)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(results: Sequence[Result], seed: int) -> str:
    """The BENCHMARKS.md section."""
    parts = [
        "## Fleet simulator: policies against failing, slow and overloaded instances",
        "",
        f"`bench/fleet.py`, seed {seed}, {machine()}. One process on virtual time (an asyncio "
        "loop whose clock jumps to the next timer): kit's real Retry, balancers, "
        "ejection, hedging, budgets, attempt timeouts and concurrency limits against "
        "simulated instances; open-loop "
        "Poisson arrivals, the same arrival times for every policy. Latencies are of every "
        "request, success or failure; load is attempts sent per request; goodput is "
        "successful requests per second. Deterministic: the same seed gives the same "
        "figures. Plot: [bench/fleet.png](bench/fleet.png).",
        "",
        "Policies: " + "; ".join(f"**{p.name}**: {p.doc}" for p in POLICIES) + ".",
    ]
    parts += ["", *targets(results)]
    for scenario in SCENARIOS:
        rows = [r for r in results if r.scenario == scenario.name]
        if rows:
            parts += ["", table(scenario, rows)]
    return "\n".join(parts)


def targets(results: Sequence[Result]) -> list[str]:
    """The issue's targets, read off these results."""
    by = {(r.scenario, r.policy): r for r in results}

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = ["Targets of issue 13, from the tables below:", ""]
    base, best = by.get(("outage", "gokit")), by.get(("outage", "budget"))
    if base and best:
        lines.append(
            f"- full outage: load amplification {best.amplification:.2f}x with the retry "
            f"budget, {base.amplification:.2f}x without (Go kit); target <= 1.2x: "
            f"{verdict(best.amplification <= 1.2)}."
        )
    base, alone, both = (by.get(("hiccups", p)) for p in ("gokit", "hedge", "connect"))
    if base and alone and both:
        cut, extra = base.p(99) / alone.p(99), alone.amplification - base.amplification
        cut2, extra2 = base.p(99) / both.p(99), both.amplification - base.amplification
        lines.append(
            f"- one instance with 10 % 100 ms hiccups: hedging alone (round robin) cuts p99 "
            f"from {_ms(base.p(99))} ms to {_ms(alone.p(99))} ms ({cut:.1f}x) for "
            f"{extra:.1%} extra load: the target (>= 5x for <= 5 %) is "
            f"{verdict(cut >= 5 and extra <= 0.05)} by hedging alone; with P2C-EWMA under "
            f"it, as connect chains them, {_ms(both.p(99))} ms ({cut2:.1f}x) for "
            f"{extra2:.1%}: {verdict(cut2 >= 5 and extra2 <= 0.05)}. Alone, the backup "
            "leaves only after the p98 delay, and the 2 % of calls that stall are that "
            "tail, so the p98 estimate sits at the edge of the stall; the backup's own "
            "latency adds to it (p99 >= p98 delay + a healthy call)."
        )
    base, p2c_, best = (by.get(("slow", p)) for p in ("gokit", "p2c", "ewma"))
    if base and p2c_ and best:
        lines.append(
            f"- one instance 10x slower: it gets {best.watched_share:.1%} of the attempts "
            f"under P2C-EWMA ({p2c_.watched_share:.1%} under P2C by calls in flight, "
            f"{base.watched_share:.1%} under round robin); target <= 5 %: "
            f"{verdict(best.watched_share <= 0.05)}."
        )
    overload = next(s for s in SCENARIOS if s.name == "overload")
    base, best = by.get(("overload", "gokit")), by.get(("overload", "adaptive"))
    if base and best and overload.capacity:
        met = best.goodput >= 0.9 * overload.capacity
        lines.append(
            f"- overloaded server, adaptive concurrency: goodput "
            f"{best.goodput / overload.capacity:.0%} of capacity, p99 {_ms(best.p(99))} ms "
            f"(target >= 90 %, p99 bounded: {verdict(met)}); without it "
            f"{base.goodput / overload.capacity:.0%} of capacity, p99 {_ms(base.p(99))} ms "
            "(every request runs into its deadline)."
        )
    base, cut, both = (by.get(("overload", p)) for p in ("gokit", "timeouts", "all"))
    if base and cut and both and overload.capacity:
        lines += [
            "",
            f"Against one overloaded instance with no protection of its own, per-attempt "
            f"timeouts keep Go kit's goodput ({cut.goodput / overload.capacity:.0%} of "
            f"capacity, Go kit's {base.goodput / overload.capacity:.0%}): with one "
            "instance, Retry gives an attempt the whole deadline instead of its share "
            "(`kitcore.lb.balancer.choices`), since a retry could only go to the same "
            "instance, still working on the abandoned attempt (the simulator's servers, "
            "like kit-http's, are not stopped by a caller that goes away; kit-grpc's are); "
            "cutting it, goodput was 2%. "
            f"With the server's own admission control (`all`) goodput is "
            f"{both.goodput / overload.capacity:.0%}: protect servers, not only clients.",
        ]
    dead = {p: by.get(("black-hole", p)) for p in ("gokit", "timeouts", "p2c", "ewma", "connect")}
    if all(dead.values()):
        described = ", ".join(
            f"{p} {r.error_rate:.1%} errors, p99 {_ms(r.p(99))} ms, {r.watched_share:.1%} of "
            "attempts to it"
            for p, r in dead.items()
            if r is not None
        )
        lines += [
            "",
            f"One black-holed instance (accepts, never answers): {described}. Without "
            "per-attempt timeouts a call that reaches it spends its whole deadline; P2C by "
            "calls in flight avoids it once its calls pile up, P2C-EWMA once one timed-out "
            "attempt has raised its cost.",
        ]
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenario", action="append", help="run only these scenarios")
    parser.add_argument("--write", action="store_true", help="write BENCHMARKS.md and the plot")
    args = parser.parse_args(argv)
    chosen = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    results = []
    for scenario in chosen:
        rows = [simulate(scenario, p, args.seed) for p in POLICIES]
        results += rows
        print(table(scenario, rows), end="\n\n", flush=True)
    if args.write:
        write_section("fleet", report(results, args.seed))
        plot(results, PLOT)
        print(f"wrote BENCHMARKS.md (fleet) and {PLOT}")


if __name__ == "__main__":
    main()
