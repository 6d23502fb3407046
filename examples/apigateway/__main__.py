"""Run the gateway: ``python -m examples.apigateway --listen :8000 --sd URL``."""

from __future__ import annotations

import click
from kit_http.serve import run, serve

from examples.apigateway.gateway import SERVICES, Route, make_gateway, parse_route
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


async def gateway(listen: str, routes: list[Route], retry_max: int, retry_timeout: float) -> None:
    """Serve the gateway at ``listen`` until SIGINT/SIGTERM."""
    logger = Logger().with_(svc="apigateway", caller=caller)
    app = make_gateway(routes, logger, max_attempts=retry_max, timeout=retry_timeout)
    for route in app.routes():
        logger.log(route=route)
    await serve(app, listen, started=lambda host, port: logger.log(msg="HTTP", addr=listen))


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
    run(gateway(listen, routes, retry_max, retry_timeout))


if __name__ == "__main__":
    main()
