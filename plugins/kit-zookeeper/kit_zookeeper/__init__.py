"""kit-zookeeper: service discovery on ZooKeeper, through kazoo.

``zk://[user:password@]host:port[,host:port]/path?session_timeout=10`` names a service:
its instances are the children of ``path``, ephemeral sequential nodes whose data is
the instance (``"host:port"``), as Go kit's ``sd/zk`` lays them out. The Instancer
watches the children; the Registrar creates the node and recreates it after a session
expiry. kazoo is thread-based; everything here hands its results and events to the
asyncio loop and never blocks it. Open them by URL with ``kitcore.sd.instancer(url)``
and ``kitcore.sd.registrar(url, "host:port")``, or build them here directly.
"""

from __future__ import annotations

from kit_zookeeper.config import ZooKeeperConfig, parse_url
from kit_zookeeper.instancer import ZooKeeperInstancer
from kit_zookeeper.registrar import ZooKeeperRegistrar
from kit_zookeeper.session import Session

__all__ = ["Session", "ZooKeeperConfig", "ZooKeeperInstancer", "ZooKeeperRegistrar", "parse_url"]
