"""ConsulRegistrar: registers this instance as an agent service with a health check.

By default the check is a TTL check that a background task keeps passing (every third
of the TTL): when the process dies the passes stop, the check turns critical after the
TTL, healthy-only Instancers drop the instance at once, and the agent removes the
service after ``deregister_after``. With ``http_check`` the agent polls the instance's
health URL instead. Either way the background task also notices when the agent has lost
the registration (an agent restart, a reaped service) and registers again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kit_consul.client import ConsulError, consul_error, make_client
from kit_consul.options import (
    AgentOptions,
    RegisterOptions,
    duration,
    parse_url,
    register_options,
)
from kitcore.backoff import Backoff
from kitcore.sd.registrar import BaseRegistrar


def split_instance(instance: str) -> tuple[str, int]:
    """``("host", port)`` from ``"host:port"`` or ``"[v6]:port"``; ValueError if malformed."""
    host, sep, port = instance.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"consul: IPv6 address in {instance!r} must be in brackets: [addr]:port")
    if not sep or not host or not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"consul: instance {instance!r} is not host:port")
    return host, int(port)


def _unknown_check(exc: Exception) -> bool:
    # Consul answers 404 "Unknown check ID" (older versions: 500 "... does not have
    # associated TTL") when the agent no longer has the check.
    text = str(exc)
    return "Unknown check" in text or "does not have associated TTL" in text


class ConsulRegistrar(BaseRegistrar):
    """Registers ``instance`` (``"host:port"``) as a service on one Consul agent.

    The service ID is ``registration.id`` or ``<service>-<host>-<port>``; its check is
    ``service:<id>``. ``logger`` is any object with ``log(**kv)``; ``backoff`` paces the
    background task's retries while the agent is unreachable.
    """

    def __init__(
        self,
        agent: AgentOptions,
        registration: RegisterOptions,
        instance: str,
        *,
        backoff: Backoff | None = None,
        logger: Any = None,
    ) -> None:
        super().__init__()
        self.agent = agent
        self.registration = registration
        self.instance = instance
        self.host, self.port = split_instance(instance)
        self.service_id = registration.id or f"{registration.service}-{self.host}-{self.port}"
        self.check_id = f"service:{self.service_id}"
        self._backoff = backoff or Backoff(base=0.1, cap=registration.beat)
        self._logger = logger
        self._client: Any = None
        self._keeper: asyncio.Task[None] | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        instance: str,
        *,
        backoff: Backoff | None = None,
        logger: Any = None,
        **options: Any,
    ) -> ConsulRegistrar:
        """Open a registrar for ``instance`` at ``consul://host:port/service?tag=..&ttl=..``."""
        parsed = parse_url(url, options)
        registration = register_options(parsed.service, parsed.options)
        return cls(parsed.agent, registration, instance, backoff=backoff, logger=logger)

    def check(self) -> dict[str, Any]:
        """The check definition sent with the service: TTL (initially passing) or HTTP."""
        reg = self.registration
        check: dict[str, Any] = {
            "CheckID": self.check_id,
            "Name": f"{reg.service} health",
            "DeregisterCriticalServiceAfter": duration(reg.deregister_after),
        }
        if reg.http_check:
            check.update(
                HTTP=reg.http_check,
                Interval=duration(reg.interval),
                Timeout=duration(reg.check_timeout),
            )
        else:
            check.update(TTL=duration(reg.ttl), Status="passing")
        return check

    def _ensure_client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.agent, session_timeout=self.agent.timeout + 1.0)
        return self._client

    async def _call(self, what: str, request: Any) -> Any:
        """Await one py-consul request within the agent timeout; failures become ConsulError."""
        try:
            return await asyncio.wait_for(request, self.agent.timeout)
        except Exception as exc:
            raise consul_error(self.agent, what, exc) from exc

    async def _put(self) -> None:
        client = self._ensure_client()
        reg = self.registration
        ok = await self._call(
            f"registering {self.service_id}",
            client.agent.service.register(
                reg.service,
                service_id=self.service_id,
                address=self.host,
                port=self.port,
                tags=list(reg.tags) or None,
                meta=dict(reg.meta) or None,
                check=self.check(),
            ),
        )
        if not ok:
            raise ConsulError(f"consul agent {self.agent.address}: registering {self.service_id}")
        if not reg.http_check:
            await self._call(f"passing {self.check_id}", client.agent.check.ttl_pass(self.check_id))

    async def _register(self) -> None:
        await self._put()
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.get_running_loop().create_task(
                self._keep(), name=f"ConsulRegistrar._keep({self.service_id})"
            )

    async def _deregister(self) -> None:
        await self._stop_keeper()
        client = self._ensure_client()
        await self._call(
            f"deregistering {self.service_id}", client.agent.service.deregister(self.service_id)
        )

    async def _close(self) -> None:
        await self._stop_keeper()
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _stop_keeper(self) -> None:
        task, self._keeper = self._keeper, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})

    async def _keep(self) -> None:
        """Keep the TTL check passing (or check the service is known) until cancelled."""
        period = (
            self.registration.interval if self.registration.http_check else (self.registration.beat)
        )
        failures = 0
        while True:
            wait = period if failures == 0 else min(period, self._backoff.delay(failures - 1))
            await asyncio.sleep(wait)
            try:
                if not await self._still_known():
                    self._log(level="warn", msg="consul lost the registration; registering again")
                    await self._put()
                failures = 0
            except Exception as exc:
                failures += 1
                self._log(level="error", msg="consul heartbeat failed", err=exc)

    async def _still_known(self) -> bool:
        """Pass the TTL check (or look the service up); False if the agent no longer has it."""
        client = self._ensure_client()
        if self.registration.http_check:
            found = await self._call(
                f"looking up {self.service_id}",
                client.agent.service_definition(self.service_id),
            )
            return found is not None
        try:
            passed = await self._call(
                f"passing {self.check_id}", client.agent.check.ttl_pass(self.check_id)
            )
        except ConsulError as exc:
            if exc.__cause__ is not None and _unknown_check(exc):
                return False
            raise
        return bool(passed)

    def _log(self, **kv: Any) -> None:
        if self._logger is not None:
            self._logger.log(service=self.service_id, **kv)
