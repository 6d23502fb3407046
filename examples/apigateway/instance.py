"""One stringsvc instance that registers itself with service discovery while it serves.

``python -m examples.apigateway.instance --listen 127.0.0.1:8081 --sd URL``

The tutorial's StringService, served as a typed kit service by kit-http on uvicorn
(``POST /uppercase`` and ``POST /count``, ``{"s": ...}`` in, the result out, typed
errors as 4xx JSON). Once it listens, it registers ``HOST:PORT`` at the discovery URL;
on SIGTERM or SIGINT it deregisters first, so gateways stop choosing it, then drains
and stops. Killed outright, it leaves the set when the backend notices: etcd's lease
(``?ttl=``), ZooKeeper's session (``?session_timeout=``) or Consul's TTL check (``?ttl=``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Any

import click
from kit_http import App, Request
from kit_http.serve import run, serve

from examples.apigateway.display import public_url
from examples.stringsvc1.service import StringService
from kitcore import sd
from kitcore.log import Logger, caller, format_duration
from kitcore.serving import ListenError, parse_listen


def make_app(logger: Logger) -> App:
    """StringService's app, logging each request it serves (the gateway's choices show here)."""

    def finalizer(request: Request, status: int, seconds: float) -> None:
        logger.log(
            method=request.method, path=request.path, status=status, took=format_duration(seconds)
        )

    return App(StringService(), finalizer=finalizer)


def advertised(listen: str, advertise: str | None) -> str:
    """The ``HOST:PORT`` to register: ``advertise``, else the listen address.

    An all-interfaces listen address (``:8081``, ``0.0.0.0:8081``) names no host others
    can reach, so 127.0.0.1 stands in for it: pass ``--advertise`` beyond one machine.
    """
    if advertise:
        return advertise
    host, port = parse_listen(listen)
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _until(event: asyncio.Event, server: asyncio.Future[Any]) -> None:
    """Wait until ``event`` is set or ``server`` has stopped, whichever comes first."""
    waiter: asyncio.Future[Any] = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait([waiter, server], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


async def _register(registrar: sd.Registrar, server: asyncio.Future[Any], logger: Logger) -> bool:
    """Register (retrying while discovery is unreachable) unless ``server`` stops first.

    True once registered, False when the server stopped (signalled) before; raises the
    final error that ends the attempts (bad credentials, no permission).
    """
    registering = asyncio.ensure_future(sd.register_with_backoff(registrar, logger=logger))
    try:
        await asyncio.wait([registering, server], return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not registering.done():
            registering.cancel()  # a cancelled register() leaves nothing behind
            await asyncio.wait([registering])
    if registering.cancelled():
        return False
    registering.result()
    return True


async def instance(listen: str, sd_url: str, address: str, logger: Logger) -> int:
    """Serve StringService at ``listen``, registered at ``sd_url`` as ``address``, till a signal.

    Returns the exit status: 0 after a signal, 1 when it could not listen or discovery
    refused the registration for good (the reason is one log line).
    """
    registrar = sd.registrar(sd_url, address)
    registered = False
    listening = asyncio.Event()
    stopping = asyncio.Event()
    server = asyncio.ensure_future(
        serve(make_app(logger), listen, started=lambda host, port: listening.set())
    )
    try:
        await _until(listening, server)
        if server.done():
            return 0  # signalled, or it failed to start: the finally block raises that error
        logger.log(msg="HTTP", addr=listen)
        try:
            registered = await _register(registrar, server, logger)
        except Exception as exc:  # final: retrying with the same settings cannot help
            logger.log(level="error", msg="cannot register", sd=public_url(sd_url), err=exc)
            return 1
        if not registered:
            return 0
        logger.log(msg="registered", instance=address, sd=public_url(sd_url))
        # serve() stops on SIGTERM/SIGINT by itself; these handlers replace its own so
        # that deregistration comes first, while the instance still answers stragglers.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await _until(stopping, server)
        return 0
    finally:
        try:
            if registered:
                await registrar.deregister()
                logger.log(msg="deregistered", instance=address)
        finally:
            await registrar.close()
            if not server.done():
                server.cancel()  # serve() then shuts down gracefully: in-flight calls finish
            with contextlib.suppress(asyncio.CancelledError):
                await server


@click.command()
@click.option("--listen", default=":8081", show_default=True, help="HTTP listen address.")
@click.option(
    "--sd",
    "sd_url",
    required=True,
    help="Discovery URL to register at, e.g. etcd://127.0.0.1:2379/services/stringsvc?ttl=2.",
)
@click.option(
    "--advertise", default=None, help="HOST:PORT to register [default: the listen address]."
)
def main(listen: str, sd_url: str, advertise: str | None) -> None:
    """Serve StringService over HTTP, registered at the discovery URL while serving."""
    try:
        address = advertised(listen, advertise)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from exc
    logger = Logger().with_(svc="stringsvc", listen=address, caller=caller)
    try:
        status = run(instance(listen, sd_url, address, logger))
    except ListenError as exc:
        raise click.ClickException(str(exc.strerror)) from None
    sys.exit(status)


if __name__ == "__main__":
    main()
