"""The gateway: each service's discovered instances behind one HTTP address.

As Go kit's apigateway: per service, an Instancer follows the discovery URL, an
Endpointer keeps one client endpoint per instance (kit-http's client), RoundRobin picks
one per call and Retry tries another when an instance fails; an instance whose call
just failed is set aside for a moment (HealthyEndpoints), so the retries go elsewhere.
Each method of the service class is served at ``POST /<prefix>/<method>`` with the body
the service itself takes, and answers what the instance answered: its result, or its
typed error (an instance's 400 reaches the caller as the same 400).

Discovery that cannot be reached is retried by its instancer, with backoff; discovery
that refuses the gateway (bad credentials, no permission: ``sd.is_final``) before its
first answer raises DiscoveryRefused, and the gateway exits, as an instance does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from kit_http import App
from kit_http.client import client_factory

from examples.apigateway.display import public_url
from examples.stringsvc1.service import StringService
from kitcore import context, sd
from kitcore.client import Call
from kitcore.endpoint import Endpoint
from kitcore.errors import DeadlineExceeded, is_caller_fault
from kitcore.lb import HealthyEndpoints, Retry, RetryError, RoundRobin
from kitcore.log import Logger
from kitcore.sd import Closer, Endpointer, Instancer
from kitcore.service import Method, ServiceSpec, describe

SERVICES: Mapping[str, type] = {"stringsvc": StringService}
"""The services the gateway can front, by URL prefix; addsvc would be one more entry."""

DEFAULT_SERVICE = "stringsvc"
"""The service a bare ``--sd URL`` (with no ``NAME=``) is for."""


@dataclass(frozen=True)
class Route:
    """One fronted service: its URL prefix, its class, and where its instances register."""

    prefix: str
    service: type
    sd_url: str


def parse_route(value: str, services: Mapping[str, type] = SERVICES) -> Route:
    """``NAME=URL`` or a bare ``URL`` (for ``DEFAULT_SERVICE``) -> a Route.

    A ``=`` in the URL's options (``?ttl=2``) is not mistaken for ``NAME=``.
    """
    head = value.split("://", 1)[0]
    name, url = value.split("=", 1) if "=" in head else (DEFAULT_SERVICE, value)
    if name not in services:
        raise ValueError(f"unknown service {name!r}: known are {', '.join(sorted(services))}")
    if "://" not in url:
        raise ValueError(f"{url!r} is not a discovery URL (etcd://, zk://, consul://...)")
    return Route(name, services[name], url)


class DiscoveryRefused(Exception):
    """Discovery refused the gateway for good (bad credentials, no permission)."""

    def __init__(self, route: Route, error: BaseException) -> None:
        super().__init__(f"{public_url(route.sd_url)}: {error}")
        self.route = route
        self.error = error


class ServiceProxy:
    """One service's instances behind one Endpoint: Endpointer -> RoundRobin -> Retry.

    ``max_attempts`` instances are tried per call within ``timeout`` seconds in all; one
    attempt may take at most ``timeout / max_attempts``, so an instance that hangs
    leaves time to try the others. An instance whose call failed (not with the caller's
    error) is logged and set aside for ``pause`` seconds.
    """

    def __init__(
        self,
        route: Route,
        logger: Logger,
        *,
        max_attempts: int = 3,
        timeout: float = 1.0,
        pause: float = 1.0,
        instancer: Instancer | None = None,
    ) -> None:
        self.route = route
        self.spec: ServiceSpec = describe(route.service)
        self._logger = logger.with_(service=route.prefix)
        self._attempt_timeout = timeout / max_attempts
        self.instancer = instancer if instancer is not None else sd.instancer(route.sd_url)
        self.endpointer = Endpointer(self.instancer, self._factory, logger=self._logger)
        self.healthy = HealthyEndpoints(self.endpointer, pause)
        self.endpoint: Endpoint = Retry(max_attempts, timeout, RoundRobin(self.healthy))

    def _factory(self, instance: str) -> tuple[Endpoint, Closer]:
        client, close = client_factory(self.spec, instance, timeout=self._attempt_timeout)
        logger, healthy = self._logger, self.healthy

        async def endpoint(call: Call) -> Any:
            try:
                return await client(call)
            except Exception as exc:
                # The caller's errors are the instance's answer, not its failure.
                if not is_caller_fault(exc):
                    logger.log(msg="attempt failed", instance=instance, err=exc)
                    healthy.failed(endpoint)
                raise

        async def closer() -> None:
            logger.log(msg="instance removed", instance=instance)
            healthy.forget(endpoint)
            await close()

        logger.log(msg="instance added", instance=instance)
        return endpoint, closer

    def method_endpoint(self, method: Method) -> Endpoint:
        """The Endpoint for one method: its request Struct in, the instance's result out."""
        endpoint = self.endpoint

        async def proxied(request: msgspec.Struct) -> Any:
            try:
                return await endpoint(Call(method, request))
            except RetryError as exc:
                # As kitcore's Client: the last attempt's error, with its own type and
                # status; every attempt's error stays reachable through __cause__.
                raise exc.final from exc

        return proxied

    def add_to(self, app: App) -> None:
        """Serve each method at ``POST /<prefix>/<method>``, decoding the method's request."""
        for name, method in self.spec.methods.items():
            if method.options.get("http"):
                raise TypeError(
                    f"{self.spec.name}.{method.attr} declares its own HTTP route; "
                    "the gateway proxies POST /<method> services only"
                )
            app.route(
                f"POST /{self.route.prefix}/{name}",
                self.method_endpoint(method),
                request_type=method.request_type,
            )

    async def discovered(self) -> None:
        """Return at discovery's first instance set; raise DiscoveryRefused if it refuses us.

        Unreachable discovery is waited out, as the instancer retries it with backoff; a
        final error (``sd.is_final``: bad credentials, no permission) ends the wait.
        """
        subscription = self.instancer.subscribe()
        try:
            async for event in subscription:
                if event.error is None:
                    return
                if sd.is_final(event.error):
                    raise DiscoveryRefused(self.route, event.error) from event.error
        finally:
            aclose = getattr(subscription, "aclose", None)
            if aclose is not None:
                await aclose()

    async def start(self, wait: float = 5.0) -> None:
        """Wait up to ``wait`` seconds for discovery's first answer, then follow it.

        Raises DiscoveryRefused when that answer is a final error; the Endpointer starts
        only after it, so a refusal is not also logged as a discovery failure.
        """
        self._logger.log(msg="discovering", sd=public_url(self.route.sd_url))
        try:
            with context.timeout(wait):
                await context.enforce(self.discovered())
        except DeadlineExceeded:
            self._logger.log(msg="no answer from discovery yet", waited=wait)
        self.endpointer.start()

    async def close(self) -> None:
        """Stop following discovery and close every instance's connections."""
        await self.endpointer.close()
        await self.instancer.close()


def make_gateway(proxies: Sequence[ServiceProxy]) -> App:
    """The gateway's App: every proxy's methods, discovery started and stopped with the app."""
    app = App(on_startup=[_starter(proxies)], on_shutdown=[_closer(proxies)])
    for proxy in proxies:
        proxy.add_to(app)
    return app


async def refusal(proxies: Iterable[ServiceProxy]) -> None:
    """Return once every proxy's discovery has answered; raise the first DiscoveryRefused."""
    tasks = [asyncio.ensure_future(proxy.discovered()) for proxy in proxies]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()


def _starter(proxies: Sequence[ServiceProxy]) -> Any:
    async def start() -> None:
        try:
            for proxy in proxies:
                await proxy.start()
        except BaseException:
            # A failed start is not half a start: no discovery left following.
            await _closer(proxies)()
            raise

    return start


def _closer(proxies: Iterable[ServiceProxy]) -> Any:
    async def close() -> None:
        for proxy in proxies:
            await proxy.close()

    return close
