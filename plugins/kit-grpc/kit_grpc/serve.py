"""Serving over gRPC: ``serve(target, url)`` and the ``kit proto module:attr`` command.

``serve`` builds a ``grpc.aio.Server`` for a typed service (or several), with the
standard health service (``grpc.health.v1.Health``) and server reflection on by default,
so grpcurl-style tools and load balancers work with no .proto at hand. It runs until
cancelled or until SIGINT/SIGTERM, then drains: health turns NOT_SERVING for every
service (load balancers stop sending), the server stops accepting, calls in flight get
``grace`` seconds to finish, then the rest are cancelled.

Message sizes are bounded both ways by ``max_message`` (4 MiB by default, gRPC's own
receive limit); a larger request is refused by grpc with RESOURCE_EXHAUSTED before kit
sees it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import click
import grpc  # type: ignore[import-untyped]
from google.protobuf import descriptor_pb2, descriptor_pool  # type: ignore[import-untyped]
from grpc_health.v1 import _async as health_async  # type: ignore[import-untyped]
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection  # type: ignore[import-untyped]

from kit_grpc.app import add_service
from kit_grpc.client import MAX_MESSAGE, channel_options
from kit_grpc.proto import render
from kit_grpc.schema import DEFAULT_PACKAGE, Schema, schema
from kitcore.service import describe
from kitcore.serving import ListenError, check_listen, load_target, on_signals, parse_listen

DEFAULT_URL = "grpc://0.0.0.0:8081"


def _services(target: Any) -> list[object]:
    items = list(target) if isinstance(target, list | tuple) else [target]
    services = [item() if isinstance(item, type) else item for item in items]
    for service in services:
        if not describe(service).methods:
            raise TypeError(
                f"cannot serve {service!r} over gRPC: want a service (a class with public "
                "async methods), or a list of them; bind single endpoints with kit_grpc.Server"
            )
    return services


def reflection_pool(schemas: Iterable[Schema]) -> descriptor_pool.DescriptorPool:
    """One pool with every served schema and the health service, for reflection."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(health_pb2.DESCRIPTOR.serialized_pb))
    for found in schemas:
        try:
            pool.Add(found.file)
        except TypeError as exc:
            raise TypeError(
                f"{found.service}: its messages clash with another service's in package "
                f"{found.file.package!r}: serve it under its own package= ({exc})"
            ) from None
    return pool


class Running:
    """A started server: its port, health servicer and how to drain it."""

    def __init__(self, server: grpc.aio.Server, port: int, health: Any, names: list[str]):
        self.server = server
        self.port = port
        self.health = health
        self.names = names

    async def drain(self, grace: float) -> None:
        """Health NOT_SERVING for every service, then stop with ``grace`` for calls in flight."""
        if self.health is not None:
            await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


async def start(
    target: Any,
    url: str = DEFAULT_URL,
    *,
    package: str = DEFAULT_PACKAGE,
    health: bool = True,
    reflect: bool = True,
    max_message: int = MAX_MESSAGE,
    server_options: Iterable[tuple[str, Any]] = (),
    interceptors: Iterable[grpc.aio.ServerInterceptor] = (),
    **options: Any,
) -> Running:
    """Build, bind and start the server for ``target`` (a service, or a list of them).

    ``interceptors`` go to ``grpc.aio.server`` (e.g. ``kit_grpc.admission.Admission``).
    """
    host, port = parse_listen(url)
    check_listen(host, port)
    # grpc sets SO_REUSEPORT by default: a second server on a taken port would then bind
    # beside the first and take half its connections instead of failing.
    channel_args = [*channel_options(max_message), ("grpc.so_reuseport", 0), *server_options]
    server = grpc.aio.server(interceptors=list(interceptors) or None, options=channel_args)
    schemas = [add_service(server, s, package=package, **options) for s in _services(target)]
    names = [s.service for s in schemas]
    servicer = None
    if health:
        servicer = health_async.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    if reflect:
        served = [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        served.append(reflection.SERVICE_NAME)
        reflection.enable_server_reflection(served, server, pool=reflection_pool(schemas))
    try:
        bound = server.add_insecure_port(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    except RuntimeError as exc:  # grpc's word for a failed bind (taken between check and bind)
        raise ListenError(0, f"cannot listen on {host}:{port}: {exc}") from None
    if bound == 0:
        raise ListenError(0, f"cannot listen on {host}:{port}")
    await server.start()
    if servicer is not None:
        serving = health_pb2.HealthCheckResponse.SERVING
        for name in ["", *names]:
            await servicer.set(name, serving)
    return Running(server, bound, servicer, names)


async def serve(
    target: Any,
    url: str = DEFAULT_URL,
    *,
    started: Callable[[str, int], None] | None = None,
    grace: float = 5.0,
    **options: Any,
) -> None:
    """Serve ``target`` at ``url`` until cancelled or signalled, then drain (see module doc).

    ``started(host, port)`` is called once the server listens (``port`` is the bound one:
    port 0 picks a free port). ``options`` go to ``start``.
    """
    running = await start(target, url, **options)
    stopping = asyncio.Event()
    undo = on_signals(stopping.set)
    try:
        if started is not None:
            started(parse_listen(url)[0], running.port)
        await stopping.wait()
    finally:
        undo()
        # Shielded: a cancelled serve() still drains before it returns.
        await asyncio.shield(running.drain(grace))


def proto_text(target: Any, package: str = DEFAULT_PACKAGE) -> str:
    """The .proto source of a service class or instance."""
    return render(schema(target, package).file)


@click.command("proto")
@click.argument("target")
@click.option("--package", default=DEFAULT_PACKAGE, show_default=True, help="The proto package.")
def proto_command(target: str, package: str) -> None:
    """Print the .proto of TARGET (module:attr: a service class or instance)."""
    obj = load_target(target)
    try:
        text = proto_text(obj, package)
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(str(exc), param_hint="TARGET") from None
    click.echo(text, nl=False)
