"""kit-amqp's hooks: the ``amqp`` transport (request-reply client and server).

Imports happen inside the functions so that listing plugins does not load aio-pika.
"""

from __future__ import annotations

from typing import Any

from kitcore import hookimpl
from kitcore.plugins.hookspecs import Register


def client_factory(spec: Any, instance: str, **options: Any) -> tuple[Any, Any]:
    """Build the client endpoint and its closer for one ``user:pass@host:port/queue`` instance."""
    from kit_amqp.client import client_factory as make

    return make(spec, instance, **options)


async def server(target: Any, url: str, **options: Any) -> None:
    """Serve a service or an endpoint set at ``url`` (``amqp://USER:PASS@HOST:PORT/QUEUE``)."""
    from kit_amqp.serve import serve

    await serve(target, url, **options)


@hookimpl
def kit_register_transports(register: Register) -> None:
    """Register ``amqp``."""
    register("amqp", client_factory, server=server, description="request-reply over AMQP")
