"""A conformance driver for consul://: adds and removes instances through the agent's API.

For ``kitcore.testing.sd.check_instancer``, the plugin's tests and its benchmark, against
a real agent or the fake one in the plugin's tests. It registers plain services (no
check, so they count as passing) the way another process's registrar would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kit_consul.client import make_client
from kit_consul.options import AgentOptions
from kit_consul.registrar import split_instance


class ConsulDriver:
    """Registers ``host:port`` instances of ``service`` on the agent; closes with ``close()``.

    ``break_`` and ``restore`` (e.g. a fake agent's ``stop`` and ``start``) make the
    driver able to take the agent away, for the suite's failure checks.
    """

    def __init__(
        self,
        agent: AgentOptions,
        service: str,
        *,
        break_: Callable[[], Awaitable[Any]] | None = None,
        restore: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.agent = agent
        self.service = service
        self._client: Any = None
        if break_ is not None and restore is not None:
            self.break_ = break_
            self.restore = restore

    def service_id(self, instance: str) -> str:
        """The service ID the driver gives ``instance``."""
        return f"{self.service}-{instance}"

    def _ensure_client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.agent, session_timeout=self.agent.timeout)
        return self._client

    async def add(self, instance: str) -> None:
        """Register ``instance``; registering it again changes nothing."""
        host, port = split_instance(instance)
        await self._ensure_client().agent.service.register(
            self.service, service_id=self.service_id(instance), address=host, port=port
        )

    async def remove(self, instance: str) -> None:
        """Deregister ``instance``."""
        await self._ensure_client().agent.service.deregister(self.service_id(instance))

    async def close(self) -> None:
        """Close the driver's client."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()
