"""kit-grpc's hooks: the ``grpc`` transport and the ``kit proto`` command.

Imports happen inside the functions so that listing plugins does not load grpc.
"""

from __future__ import annotations

from typing import Any

import click

from kitcore import hookimpl
from kitcore.plugins.hookspecs import Register


def client_factory(spec: Any, instance: str, **options: Any) -> tuple[Any, Any]:
    """Build the client endpoint and its closer for one ``host:port`` instance."""
    from kit_grpc.client import client_factory as make

    return make(spec, instance, **options)


async def server(target: Any, url: str, **options: Any) -> None:
    """Serve a service (or a list of them) at ``url`` (``grpc://HOST:PORT``)."""
    from kit_grpc.serve import serve

    await serve(target, url, **options)


@hookimpl
def kit_register_transports(register: Register) -> None:
    """Register ``grpc``."""
    register("grpc", client_factory, server=server, description="protobuf over gRPC (grpc.aio)")


@hookimpl
def kit_register_commands(cli: click.Group) -> None:
    """Add ``kit proto``."""
    from kit_grpc.serve import proto_command

    cli.add_command(proto_command)
