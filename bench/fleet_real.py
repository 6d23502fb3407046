"""The fleet simulator checked against reality: the same scenarios on real kit-http processes.

.venv/bin/python bench/fleet_real.py            # print sim vs real per scenario and policy
.venv/bin/python bench/fleet_real.py --write    # also write the "fleet-real" section

Each instance is its own process serving ``work`` over kit-http on uvicorn, with the
behaviour the simulator gives it (``bench/_sim.py``'s functions, on the real clock): a
slow instance is slow by a delay, an overloaded one shares 4 "workers" among its calls
(timers, not the CPU, so that the other engineers' load on this 2-core machine does not
change its capacity), a dead one is SIGKILLed before the run. Every process serves one
variant per policy under ``/<policy>/work``, wrapped in ``kit_http.admission.Admission``
with the same limiter the simulator gives that policy. The client is the policy's own
builder from ``bench/fleet.py`` over ``kit_http``'s ServiceClient per instance. Then the
simulator runs the same scenario at the same rate and duration, and both rows print
side by side with their differences.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _sim
import fleet
from _report import machine, write_section

from kitcore import Endpoint, describe
from kitcore.client import Call
from kitcore.testing.services import free_port
from kitcore.testing.virtual_time import VirtualTimeLoop

DURATION = 4.0
RATE = 150.0
SCENARIOS = ("outage", "hiccups", "slow", "overload")
DEAD = "dead"


class FleetService:
    """The one method every simulated instance serves."""

    async def work(self, n: int) -> int:
        """Do the instance's work for request ``n``; return ``n``."""
        raise NotImplementedError  # replaced per instance by its behaviour


# -- the server process ------------------------------------------------------------------------


def _variant_app(behaviour: _sim.Work, protection: fleet.Protection | None) -> Any:
    from kit_http import App
    from kit_http.admission import Admission

    class Instance(FleetService):
        async def work(self, n: int) -> int:
            result: int = await behaviour(n)
            return result

    app = App(Instance())
    if protection is None or (protection.limiter is None and protection.min_latency is None):
        return app
    return Admission(app, protection.limiter, min_latency=protection.min_latency)


class _ByPrefix:
    """Dispatches ``/<variant>/...`` to that variant's app (its root path)."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.apps = apps

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
            await send({"type": "lifespan.shutdown.complete"})
            return
        variant = scope["path"].split("/", 2)[1] if scope["type"] == "http" else ""
        app = self.apps.get(variant)
        if app is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app({**scope, "root_path": f"/{variant}"}, receive, send)


async def _serve(scenario: str, instance: str, port: int, seed: int) -> None:
    from kit_http.serve import serve

    chosen = next(s for s in scenarios() if s.name == scenario)
    loop = asyncio.get_running_loop()
    apps = {}
    for policy in fleet.POLICIES:
        sim = fleet.Sim(loop, f"{seed}:{scenario}")  # the same random streams as the simulator
        behaviour = dict(chosen.behaviours(sim))[instance]
        protection = policy.server(sim, instance) if policy.server else None
        apps[policy.name] = _variant_app(behaviour, protection)
    await serve(
        _ByPrefix(apps), f"127.0.0.1:{port}", started=lambda h, p: print("ready", flush=True)
    )


# -- the client --------------------------------------------------------------------------------


@contextlib.contextmanager
def instances(scenario: fleet.Scenario, seed: int) -> Iterator[list[tuple[str, str]]]:
    """Start one process per instance; yield ``(name, host:port)``; kill them all after."""
    loop = VirtualTimeLoop()
    try:
        names = [name for name, _ in scenario.behaviours(fleet.Sim(loop, "names"))]
    finally:
        loop.close()
    procs: list[subprocess.Popen[str]] = []
    started: list[tuple[str, str]] = []
    try:
        for name in names:
            port = free_port()
            proc = subprocess.Popen(
                [sys.executable, __file__, "serve", scenario.name, name, str(port), str(seed)],
                stdout=subprocess.PIPE,
                text=True,
            )
            procs.append(proc)
            started.append((name, f"127.0.0.1:{port}"))
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"instance process {proc.args!r} did not start")
        for (name, _), proc in zip(started, procs, strict=True):
            if name.startswith(DEAD):
                os.kill(proc.pid, signal.SIGKILL)  # dead for real: connections are refused
                proc.wait()
        yield started
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _run_real(
    scenario: fleet.Scenario, policy: fleet.Policy, hosts: Sequence[tuple[str, str]], seed: int
) -> fleet.Result:
    from kit_http.client import ServiceClient

    spec = describe(FleetService)
    method = spec.methods["work"]
    counts = dict.fromkeys((name for name, _ in hosts), 0)
    clients = [ServiceClient(spec, host, prefix=f"/{policy.name}") for _, host in hosts]

    def endpoint(name: str, client: ServiceClient) -> Endpoint:
        async def call(n: Any) -> Any:
            counts[name] += 1
            return await client(Call(method, method.request(n)))

        return call

    loop = asyncio.get_running_loop()
    sim = fleet.Sim(loop, f"{seed}:{scenario.name}")
    caller = policy.client([endpoint(n, c) for (n, _), c in zip(hosts, clients, strict=True)], sim)
    try:
        outcomes = await _sim.open_loop(
            caller, scenario.rate, scenario.duration, sim.rng("arrivals")
        )
    finally:
        for client in clients:
            await client.close()
    return fleet.measured(scenario, policy, outcomes, counts)


def _busy(sim: fleet.Sim) -> list[tuple[str, _sim.Work]]:
    return [("busy", _sim.overloaded(sim.rng("busy"), sim.loop, workers=2, median=0.040)[0])]


def scenarios() -> list[fleet.Scenario]:
    """The simulator's scenarios at this bench's smaller scale.

    The overloaded instance is scaled down too (2 workers, 40 ms: about 50 calls/s), so
    that the one client process, on a shared machine, is never the bottleneck.
    """
    chosen = []
    for base in fleet.SCENARIOS:
        if base.name not in SCENARIOS:
            continue
        if base.capacity is None:
            chosen.append(
                fleet.Scenario(
                    base.name, base.doc, base.behaviours, RATE, DURATION, watch=base.watch
                )
            )
            continue
        loop = VirtualTimeLoop()
        try:
            capacity = _sim.overloaded(random.Random(0), loop, workers=2, median=0.040)[1]
        finally:
            loop.close()
        doc = "1 instance of finite capacity (2 workers, 40 ms), offered 1.5x its capacity"
        chosen.append(
            fleet.Scenario(base.name, doc, _busy, 1.5 * capacity, DURATION, "busy", capacity)
        )
    return chosen


def compare(scenario: fleet.Scenario, pairs: Sequence[tuple[fleet.Result, fleet.Result]]) -> str:
    """A markdown table: each policy's simulated and real figures side by side."""
    watch = scenario.watch
    lines = [
        f"**{scenario.name}**: {scenario.doc}; {scenario.rate:.0f} requests/s for "
        f"{scenario.duration:.0f} s.",
        "",
        "| policy | p50 ms sim / real | p99 ms sim / real | errors sim / real "
        f"| load sim / real | goodput/s sim / real{f' | to {watch} sim / real' if watch else ''} |",
        "|---|---:|---:|---:|---:|---:|" + ("---:|" if watch else ""),
    ]
    for s, r in pairs:
        row = (
            f"| {s.policy} | {s.p(50) * 1000:.1f} / {r.p(50) * 1000:.1f} "
            f"| {s.p(99) * 1000:.1f} / {r.p(99) * 1000:.1f} "
            f"| {s.error_rate:.1%} / {r.error_rate:.1%} "
            f"| {s.amplification:.2f} / {r.amplification:.2f} "
            f"| {s.goodput:.0f} / {r.goodput:.0f}"
        )
        if watch:
            row += f" | {s.watched_share:.1%} / {r.watched_share:.1%}"
        lines.append(row + " |")
    return "\n".join(lines)


def agreement(pairs: Sequence[tuple[fleet.Result, fleet.Result]]) -> dict[str, float]:
    """The largest sim-vs-real gaps over every row: ratios of latency, differences of rates."""

    def ratio(a: float, b: float) -> float:
        return max(a, b) / min(a, b) if min(a, b) > 0 else 1.0

    return {
        "p50 ratio": max(ratio(s.p(50), r.p(50)) for s, r in pairs),
        "p99 ratio": max(ratio(s.p(99), r.p(99)) for s, r in pairs),
        "load difference": max(abs(s.amplification - r.amplification) for s, r in pairs),
        "error-rate difference": max(abs(s.error_rate - r.error_rate) for s, r in pairs),
        "goodput ratio": max(ratio(s.goodput, r.goodput) for s, r in pairs),
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "serve":
        name, instance, port, seed = args[1:5]
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(name, instance, int(port), int(seed)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenario", action="append", help="run only these scenarios")
    parser.add_argument("--write", action="store_true", help="write BENCHMARKS.md")
    opts = parser.parse_args(args)
    sections = []
    everything: list[tuple[fleet.Result, fleet.Result]] = []
    for scenario in scenarios():
        if opts.scenario and scenario.name not in opts.scenario:
            continue
        pairs = []
        with instances(scenario, opts.seed) as hosts:
            for policy in fleet.POLICIES:
                real = asyncio.run(_run_real(scenario, policy, hosts, opts.seed))
                simulated = fleet.simulate(scenario, policy, opts.seed)
                pairs.append((simulated, real))
        everything += pairs
        gaps = agreement(pairs)
        sections.append(
            compare(scenario, pairs)
            + "\n\nLargest gaps here: "
            + ", ".join(f"{k} {v:.2f}" for k, v in gaps.items())
            + "."
        )
        print(sections[-1], end="\n\n", flush=True)
    everywhere = agreement(everything)
    summary = ", ".join(f"{k} {v:.2f}" for k, v in everywhere.items())
    print("largest gaps:", summary)
    if opts.write:
        body = "\n".join(
            [
                "## Fleet simulator against real kit-http processes",
                "",
                f"`bench/fleet_real.py`, seed {opts.seed}, {machine()}: each scenario at "
                f"{RATE:.0f} requests/s (overload: 1.5x capacity) for {DURATION:.0f} s, on "
                "one uvicorn process per instance (a slow one slow by a delay, a dead one "
                "SIGKILLed, an overloaded one sharing 2 timer-driven workers), the policy's "
                "own client over kit-http, then the simulator on the same scenario. One run "
                "on the shared 2-core machine: the real figures carry its noise.",
                "",
                f"Largest gaps over every row: {summary} (latency and goodput as max/min "
                "ratios, load and error rate as absolute differences); each scenario's own "
                "follow its table.",
                *(f"\n{s}" for s in sections),
            ]
        )
        write_section("fleet-real", body)
        print("wrote BENCHMARKS.md (fleet-real)")


if __name__ == "__main__":
    main()
