"""A conformance driver for dnssrv:// against a real dnsmasq (``kitcore.testing.servers``).

``DnsmasqDriver`` changes the SRV records dnsmasq serves, for ``kitcore.testing.sd``'s
``check_instancer``, the plugin's tests and its benchmark. dnsmasq rereads SRV records
only on a restart, which is blocking: it runs in a worker thread so the loop goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from kitcore.testing.servers import DnsmasqServer, DnsRecord, SrvRecord


def srv_record(name: str, instance: str) -> SrvRecord:
    """The SRV record under ``name`` pointing at ``instance`` (``"target:port"``)."""
    target, _, port = instance.rpartition(":")
    return SrvRecord(name, target, int(port))


class DnsmasqDriver:
    """Adds and removes ``target:port`` instances as SRV records of ``name`` on ``server``.

    ``extra`` records (A records of targets, other services) are served alongside.
    ``break_()`` stops dnsmasq, so lookups time out; ``restore()`` starts it again.
    """

    def __init__(
        self, server: DnsmasqServer, name: str, *, extra: Iterable[DnsRecord] = ()
    ) -> None:
        self.server = server
        self.name = name
        self.extra = tuple(extra)
        self.instances: set[str] = set()

    async def set(self, instances: Iterable[str]) -> None:
        """Serve exactly ``instances``; nothing happens when they are already served."""
        wanted = set(instances)
        if wanted == self.instances:
            return
        self.instances = wanted
        records = [srv_record(self.name, i) for i in sorted(wanted)] + list(self.extra)
        await asyncio.to_thread(self.server.set_records, records)

    async def add(self, instance: str) -> None:
        """Add ``instance``."""
        await self.set(self.instances | {instance})

    async def remove(self, instance: str) -> None:
        """Remove ``instance``."""
        await self.set(self.instances - {instance})

    async def break_(self) -> None:
        """Stop dnsmasq: lookups time out until ``restore()``."""
        await asyncio.to_thread(self.server.stop)

    async def restore(self) -> None:
        """Start dnsmasq again with the same records."""
        await asyncio.to_thread(self.server.start)
