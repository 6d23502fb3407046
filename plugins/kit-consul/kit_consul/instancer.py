"""ConsulInstancer: a service's healthy instances, followed with Consul's blocking queries.

One long-lived request at a time: ``GET /v1/health/service/<name>?index=N&wait=W``
returns as soon as the service changes (or after ``wait``), with the index to send next.
No change means no traffic beyond one request per ``wait``.

Consul once took Go kit down this road badly (go-kit/kit#1214: an index never updated
made every query return at once, and the agents ran at 100% CPU). Here nothing can make
the loop spin: failures back off exponentially with jitter, and so do answers that are
suspicious (an index that went backwards or is not positive, or an early answer that
brings no new index), until a sane answer comes again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from kit_consul.client import consul_error, make_client
from kit_consul.index import next_index
from kit_consul.options import (
    AgentOptions,
    WatchOptions,
    duration,
    parse_url,
    watch_options,
)
from kitcore.backoff import Backoff
from kitcore.sd.event import Event
from kitcore.sd.instancer import BaseInstancer


def host_port(address: str, port: int) -> str:
    """``address:port``, with an IPv6 address in brackets."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def instances_of(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """``Address:Port`` of each health entry: the service's address, else its node's."""
    instances = []
    for entry in entries:
        service = entry.get("Service") or {}
        address = service.get("Address") or (entry.get("Node") or {}).get("Address")
        port = service.get("Port")
        if address and port:
            instances.append(host_port(str(address), int(port)))
    return instances


class ConsulInstancer(BaseInstancer):
    """Watches one Consul service's instances (healthy ones by default) on one agent.

    ``logger`` is any object with ``log(**kv)``; ``backoff`` paces retries after errors
    and after suspicious answers. The py-consul client is created when the watch starts
    and closed by ``close()``.
    """

    def __init__(
        self,
        agent: AgentOptions,
        watch: WatchOptions,
        *,
        backoff: Backoff | None = None,
        logger: Any = None,
    ) -> None:
        super().__init__()
        self.agent = agent
        self.watch = watch
        self._backoff = backoff or Backoff(base=0.05, cap=5.0)
        self._logger = logger
        self._client: Any = None

    @classmethod
    def from_url(
        cls, url: str, *, backoff: Backoff | None = None, logger: Any = None, **options: Any
    ) -> ConsulInstancer:
        """Open ``consul://host:port/service?tag=..&passing=1``; keywords override the URL."""
        parsed = parse_url(url, options)
        return cls(
            parsed.agent,
            watch_options(parsed.service, parsed.options),
            backoff=backoff,
            logger=logger,
        )

    async def _query(self, index: int) -> tuple[object, list[Mapping[str, Any]]]:
        """One health query: blocking when ``index`` > 0; the answer's index and entries."""
        watch = self.watch
        wait = watch.wait if index > 0 else None
        # Consul adds up to wait/16 of jitter to a blocking query; the timeout covers it.
        limit = self.agent.timeout + (wait * 17 / 16 if wait else 0.0)
        returned, entries = await asyncio.wait_for(
            self._client.health.service(
                watch.service,
                index=index or None,
                wait=duration(wait) if wait else None,
                passing=watch.passing,
                tag=list(watch.tags) or None,
                dc=self.agent.dc,
            ),
            limit,
        )
        return returned, list(entries or [])

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        index = 0
        failures = 0
        suspicious = 0
        while True:
            started = loop.time()
            try:
                if self._client is None:  # here, so a bad TLS file is an error event too
                    session_timeout = self.agent.timeout + self.watch.wait * 17 / 16 + 1.0
                    self._client = make_client(self.agent, session_timeout=session_timeout)
                returned, entries = await self._query(index)
            except Exception as exc:
                error = consul_error(self.agent, f"watching {self.watch.service}", exc)
                self._log(level="error", msg="consul watch failed", err=error)
                self.update(Event(error=error))
                # After a failure the agent may have restarted: ask for the current state
                # at once instead of blocking on an index it may no longer know.
                index = 0
                await asyncio.sleep(self._backoff.delay(failures))
                failures += 1
                continue
            failures = 0
            self.update(Event(instances_of(entries)))
            asked = index
            index, anomaly = next_index(asked, returned)
            early = asked > 0 and loop.time() - started < self.watch.wait / 2
            if anomaly is None and early and index == asked:
                anomaly = "answered early without a new index"
            if anomaly is None:
                suspicious = 0
                continue
            self._log(
                level="warn",
                msg="consul blocking query anomaly; slowing down",
                service=self.watch.service,
                reason=anomaly,
                index=returned,
            )
            await asyncio.sleep(self._backoff.delay(suspicious))
            suspicious += 1

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def _log(self, **kv: Any) -> None:
        if self._logger is not None:
            self._logger.log(**kv)
