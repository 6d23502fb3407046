"""Opening a NATS connection the way every kit-nats part wants it: reconnecting for ever.

A server or consumer must outlive a broker restart, so once connected, reconnection
never gives up (the pending buffer keeps what is published meanwhile, acks included).
The first connection is different: a wrong address must fail, not hang, so it gets
``connect_attempts`` tries; nats-py reads one setting for both, which is changed to
"for ever" once the first connection is up.
"""

from __future__ import annotations

import logging
from typing import Any

import nats
from nats.aio.client import Client

_log = logging.getLogger("kit_nats")


async def _log_error(error: Exception) -> None:
    # nats-py's default prints a traceback per failed reconnect attempt.
    _log.warning("nats: %s: %s", type(error).__name__, error)


async def open_connection(server: str, *, connect_attempts: int = 3, **options: Any) -> Client:
    """Connect to ``server`` (``nats://host:port``); ``options`` go to ``nats.connect``."""
    forever = options.pop("max_reconnect_attempts", -1)
    settings: dict[str, Any] = {
        "reconnect_time_wait": 0.5,
        "connect_timeout": 5,
        "allow_reconnect": True,
        "error_cb": _log_error,
    }
    settings.update(options)
    nc = await nats.connect(servers=[server], max_reconnect_attempts=connect_attempts, **settings)
    nc.options["max_reconnect_attempts"] = forever
    return nc
