"""Run stringsvc1: ``python -m examples.stringsvc1 --listen :8080 [--nats URL]``.

``--nats nats://127.0.0.1:4222/stringsvc`` serves the same service over NATS beside
HTTP (kit's wire form there: typed errors), until the HTTP server stops.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click
from kit_http.health import add_health
from kit_http.openapi import add_openapi
from kit_http.serve import run, serve

from examples.stringsvc1.service import StringService
from examples.stringsvc1.transport import make_app
from kitcore.log import Logger


@click.command()
@click.option("--listen", default=":8080", show_default=True, help="HTTP listen address.")
@click.option(
    "--nats", "nats_url", default=None, help="Serve over NATS too: nats://HOST:PORT/SUBJECT."
)
def main(listen: str, nats_url: str | None) -> None:
    """Serve the string service over HTTP (and NATS)."""
    logger = Logger()
    service = StringService()
    app = make_app(service)
    add_health(add_openapi(app, title="stringsvc1"))
    http = serve(app, listen, started=lambda host, port: logger.log(msg="HTTP", addr=listen))
    run(http if nats_url is None else _beside_nats(http, service, nats_url, logger))


async def _beside_nats(http: Any, service: StringService, url: str, logger: Logger) -> None:
    from kit_nats.serve import serve as serve_nats

    started = lambda server, subject: logger.log(msg="NATS", addr=url)  # noqa: E731
    nats = asyncio.ensure_future(serve_nats(service, url, started=started, handle_signals=False))
    web = asyncio.ensure_future(http)
    try:
        await asyncio.wait({web, nats}, return_when=asyncio.FIRST_COMPLETED)
        if nats.done() and not web.done():
            # NATS could not be served (no broker there): stop, saying why.
            error = nats.exception()
            raise click.ClickException(f"cannot serve over NATS at {url}: {error}")
        await web
    finally:
        for task in (nats, web):
            task.cancel()
        await asyncio.gather(nats, web, return_exceptions=True)


if __name__ == "__main__":
    main()
