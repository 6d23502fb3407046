"""Run profilesvc: ``python -m examples.profilesvc --listen :8080``."""

from __future__ import annotations

import click
from kit_http import App, Request
from kit_http.health import add_health
from kit_http.openapi import add_openapi
from kit_http.serve import run, serve

from examples.profilesvc.service import ProfileService
from kitcore.log import Logger, caller, format_duration


def make_app(logger: Logger) -> App:
    """The profile service's app, logging every request's method, path, status and duration."""

    def finalizer(request: Request, status: int, seconds: float) -> None:
        logger.log(
            method=request.method, path=request.path, status=status, took=format_duration(seconds)
        )

    app = App(ProfileService(), finalizer=finalizer)
    return add_health(add_openapi(app, title="profilesvc"))


@click.command()
@click.option("--listen", default=":8080", show_default=True, help="HTTP listen address.")
def main(listen: str) -> None:
    """Serve the profile service over HTTP."""
    logger = Logger().with_(listen=listen, caller=caller)
    app = make_app(logger)
    for route in app.routes():
        logger.log(route=route)
    run(serve(app, listen, started=lambda host, port: logger.log(msg="HTTP", addr=listen)))


if __name__ == "__main__":
    main()
