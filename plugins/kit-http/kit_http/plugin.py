"""kit-http's hooks: the ``http``/``https``/``jsonrpc`` transports and the ``kit serve`` command.

Imports happen inside the functions so that listing plugins does not load aiohttp.
"""

from __future__ import annotations

from typing import Any

import click

from kitcore import hookimpl
from kitcore.plugins.hookspecs import Register


def client_factory(spec: Any, instance: str, **options: Any) -> tuple[Any, Any]:
    """Build the client endpoint and its closer for one ``host:port`` instance."""
    from kit_http.client import client_factory as make

    return make(spec, instance, **options)


def https_client_factory(spec: Any, instance: str, **options: Any) -> tuple[Any, Any]:
    """Build the client endpoint for one instance reached over TLS."""
    from kit_http.client import client_factory as make

    return make(spec, instance if "://" in instance else f"https://{instance}", **options)


async def server(target: Any, url: str, **options: Any) -> None:
    """Serve a service, an endpoint set or an app at ``url`` (``http://HOST:PORT``)."""
    from kit_http.serve import serve

    await serve(target, url, **options)


def jsonrpc_client_factory(spec: Any, instance: str, **options: Any) -> tuple[Any, Any]:
    """Build the JSON-RPC client endpoint for one ``host:port[/path]`` instance."""
    from kit_http.jsonrpc.client import client_factory as make

    return make(spec, instance, **options)


async def jsonrpc_server(target: Any, url: str, **options: Any) -> None:
    """Serve a service or an endpoint set over JSON-RPC at ``jsonrpc://HOST:PORT/PATH``."""
    from kit_http.jsonrpc.server import serve

    await serve(target, url, **options)


@hookimpl
def kit_register_transports(register: Register) -> None:
    """Register ``http``, ``https`` and ``jsonrpc``."""
    register("http", client_factory, server=server, description="JSON over HTTP (aiohttp)")
    register("https", https_client_factory, description="JSON over HTTPS (client only)")
    register(
        "jsonrpc",
        jsonrpc_client_factory,
        server=jsonrpc_server,
        description="JSON-RPC 2.0 over HTTP",
    )


@hookimpl
def kit_register_commands(cli: click.Group) -> None:
    """Add ``kit serve``."""
    from kit_http.serve import serve_command

    cli.add_command(serve_command)
