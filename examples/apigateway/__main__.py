"""Run the gateway: ``python -m examples.apigateway --listen :8000 --sd URL``."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import click
from kit_http.serve import run, serve

from examples.apigateway.display import public_url
from examples.apigateway.gateway import (
    SERVICES,
    DiscoveryRefused,
    Route,
    ServiceProxy,
    make_gateway,
    parse_route,
    refusal,
)
from kitcore.log import Logger, caller


def _routes(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[Route]:
    try:
        routes = [parse_route(value) for value in values]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    prefixes = [route.prefix for route in routes]
    if len(set(prefixes)) != len(prefixes):
        raise click.BadParameter(f"a service is given twice: {prefixes}")
    return routes


async def gateway(listen: str, routes: list[Route], retry_max: int, retry_timeout: float) -> int:
    """Serve the gateway at ``listen`` until SIGINT/SIGTERM; return the exit status.

    1 when discovery refuses the gateway before its first answer (bad credentials, no
    permission), with the reason in one log line; unreachable discovery is retried.
    """
    logger = Logger().with_(svc="apigateway", caller=caller)
    proxies = [
        ServiceProxy(route, logger, max_attempts=retry_max, timeout=retry_timeout)
        for route in routes
    ]
    app = make_gateway(proxies)
    for route in app.routes():
        logger.log(route=route)

    def started(host: str, port: int) -> None:
        logger.log(msg="HTTP", addr=listen)

    server = asyncio.ensure_future(serve(app, listen, started=started))
    refused = asyncio.ensure_future(refusal(proxies))
    try:
        await asyncio.wait([server, refused], return_when=asyncio.FIRST_COMPLETED)
        if refused.done():
            refused.result()
        await server
    except DiscoveryRefused as exc:
        logger.log(
            level="error",
            msg="discovery refused the gateway",
            service=exc.route.prefix,
            sd=public_url(exc.route.sd_url),
            err=exc.error,
        )
        return 1
    finally:
        for task in (refused, server):
            task.cancel()  # serve() then shuts down gracefully
            with contextlib.suppress(asyncio.CancelledError, DiscoveryRefused):
                await task
    return 0


@click.command()
@click.option("--listen", default=":8000", show_default=True, help="HTTP listen address.")
@click.option(
    "--sd",
    "routes",
    multiple=True,
    required=True,
    callback=_routes,
    help=(
        "Where a service's instances register: URL (stringsvc's) or NAME=URL, e.g. "
        "etcd://127.0.0.1:2379/services/stringsvc. Repeat for more services "
        f"(known: {', '.join(sorted(SERVICES))})."
    ),
)
@click.option("--retry-max", default=3, show_default=True, help="Instances tried per call.")
@click.option(
    "--retry-timeout",
    default=1.0,
    show_default=True,
    help="Seconds all attempts of one call may take; one attempt gets its share.",
)
def main(listen: str, routes: list[Route], retry_max: int, retry_timeout: float) -> None:
    """Serve the discovered instances of each service under one HTTP address."""
    sys.exit(run(gateway(listen, routes, retry_max, retry_timeout)))


if __name__ == "__main__":
    main()
