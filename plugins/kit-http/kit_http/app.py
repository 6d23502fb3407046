"""App: the ASGI application serving kit services, endpoint sets and explicit routes.

Pure ASGI: one callable, no per-request middleware objects, so it runs unchanged on
uvicorn, granian and hypercorn and mounts inside Starlette or FastAPI. It answers the
lifespan protocol and drains on shutdown: new requests get 503 while the in-flight
ones finish.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from kit_http import rsgi
from kit_http.binding import Binding
from kit_http.body import BodyWatch
from kit_http.errors import MethodNotAllowed, RouteNotFound
from kit_http.handler import Decode, Encode, Handler, _log, send_error
from kit_http.message import Request
from kit_http.options import ServerOptions
from kit_http.routing import Router, RouteSpec
from kitcore.asgi import Receive, Scope, Send
from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import Unavailable
from kitcore.service import describe, endpoint

Hook = Callable[[], "Awaitable[None] | None"]
"""A start-up or shutdown function, sync or async."""


class App:
    """An ASGI app serving kit endpoints over JSON; see the module docs of ``kit_http``.

    ``targets`` are service instances (each method at ``POST /<name>`` or its declared
    route) and mappings of name -> Endpoint (each at ``POST /<name>``, JSON in and out).
    ``options`` are the server options every route gets (``before``, ``after``,
    ``error_encoder``, ``error_handler``, ``finalizer``, ``rejected``, ``max_body``,
    ``timeout``, ``content_types``); each ``add_*`` call may override them for its routes.
    """

    def __init__(
        self,
        *targets: object,
        prefix: str = "",
        middleware: Middleware | None = None,
        named_middleware: Callable[[str], Middleware] | None = None,
        body_timeout: float = 30.0,
        shutdown_timeout: float = 30.0,
        on_startup: Iterable[Hook] = (),
        on_shutdown: Iterable[Hook] = (),
        **options: Any,
    ) -> None:
        self.options = ServerOptions.build(**options)
        self.router: Router[Handler] = Router()
        self.shutdown_timeout = shutdown_timeout
        self.on_startup = list(on_startup)
        self.on_shutdown = list(on_shutdown)
        self._watch = BodyWatch(body_timeout)
        # What each route takes and returns, for kit_http.openapi; ``operational`` are the
        # paths that serve the app itself (documentation, health), not its API.
        self.bindings: list[Binding] = []
        self.explicit: list[tuple[RouteSpec, Any]] = []
        self.operational: set[str] = set()
        self._static = self.router.static
        self._inflight = 0
        self._draining = False
        self._idle: asyncio.Event | None = None
        self._background: set[asyncio.Task[Any]] = set()
        for target in targets:
            self.add(
                target, prefix=prefix, middleware=middleware, named_middleware=named_middleware
            )

    # -- building ---------------------------------------------------------------------

    def add(
        self,
        target: object,
        *,
        prefix: str = "",
        middleware: Middleware | None = None,
        named_middleware: Callable[[str], Middleware] | None = None,
        **options: Any,
    ) -> App:
        """Add a service instance or a mapping of name -> Endpoint; returns the app."""
        if isinstance(target, Mapping):
            return self.add_endpoints(
                target,
                prefix=prefix,
                middleware=middleware,
                named_middleware=named_middleware,
                **options,
            )
        return self.add_service(
            target,
            prefix=prefix,
            middleware=middleware,
            named_middleware=named_middleware,
            **options,
        )

    def add_service(
        self,
        service: object,
        *,
        prefix: str = "",
        middleware: Middleware | None = None,
        named_middleware: Callable[[str], Middleware] | None = None,
        **options: Any,
    ) -> App:
        """Serve every method of a typed service instance, each wrapped in the middlewares."""
        if isinstance(service, type):
            raise TypeError(f"pass an instance of {service.__name__}, not the class")
        spec = describe(service)
        if not spec.methods:
            raise TypeError(f"{type(service).__name__} has no public async methods to serve")
        merged = self.options.merge(**options)
        plain = middleware is None and named_middleware is None
        for name, m in spec.methods.items():
            ep = wrap(endpoint(service, name), name, middleware, named_middleware)
            binding = Binding(m, prefix)
            direct = plain and m.positional and not m.streaming
            method = getattr(service, m.attr) if direct else None
            handler = Handler(ep, merged, self._watch, binding=binding, method=method, name=name)
            self.router.add(binding.route, handler)
            self.bindings.append(binding)
        return self

    def add_endpoints(
        self,
        endpoints: Mapping[str, Endpoint],
        *,
        prefix: str = "",
        middleware: Middleware | None = None,
        named_middleware: Callable[[str], Middleware] | None = None,
        **options: Any,
    ) -> App:
        """Serve each endpoint at ``POST <prefix>/<name>``: the JSON body in, JSON out."""
        for name, ep in endpoints.items():
            self.route(
                f"POST {prefix.rstrip('/')}/{name}",
                wrap(ep, name, middleware, named_middleware),
                name=name,
                **options,
            )
        return self

    def route(
        self,
        spec: str,
        endpoint: Endpoint,
        *,
        decode: Decode | None = None,
        encode: Encode | None = None,
        request_type: Any = None,
        name: str | None = None,
        **options: Any,
    ) -> App:
        """Serve one endpoint at ``spec`` (``"POST /uppercase"``): Go kit's explicit form.

        ``name`` is the route's name for the ``rejected`` option (default: ``spec``).

        ``decode(request)`` turns the Request (body read, within limits) into the
        endpoint's request; by default the JSON body is decoded into ``request_type``
        (any JSON when None). ``encode(response)`` returns JSON bytes or a Response; by
        default the response is encoded as JSON. With ``decode`` given, ``request_type``
        only documents what it accepts (kit_http.openapi).
        """
        route = RouteSpec.parse(spec)
        handler = Handler(
            endpoint,
            self.options.merge(**options),
            self._watch,
            decode=decode,
            encode=encode,
            request_type=request_type,
            reads_body=route.method not in ("GET", "HEAD", "DELETE", "OPTIONS"),
            name=spec if name is None else name,
        )
        self.router.add(route, handler)
        self.explicit.append((route, request_type))
        return self

    def routes(self) -> list[str]:
        """Every route served, as ``"METHOD /path"``."""
        return self.router.routes()

    # -- serving ----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._other(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        methods = self._static.get(path)
        params = None
        if methods is None:
            found = self._match(scope, path)
            if found is None:
                await self._refuse(scope, RouteNotFound(f"no route for {path}"), send)
                return
            methods, params = found
        handler = methods.get(scope["method"])
        if handler is None:
            allow = sorted(methods)
            error = MethodNotAllowed(
                f"{scope['method']} is not allowed on {path}", details={"allow": allow}
            )
            await self._refuse(scope, error, send)
            return
        if self._draining:
            await self._refuse(scope, Unavailable("server is shutting down"), send)
            return
        self._inflight += 1
        try:
            await handler.serve(scope, receive, send, params)
        finally:
            self._inflight -= 1
            if self._draining and not self._inflight and self._idle is not None:
                self._idle.set()

    def _match(self, scope: Scope, path: str) -> tuple[dict[str, Handler], Any] | None:
        raw = scope.get("raw_path")
        if not raw or b"%" not in raw:
            return self.router.match(path)
        # A parameter may hold an encoded "/" ("a%2Fb"): match on the raw path, then
        # decode each parameter on its own.
        text = raw.decode("latin-1")
        root = scope.get("root_path")
        if root and text.startswith(root):
            text = text[len(root) :] or "/"
        found = self.router.match(text)
        raw_params = found[1] if found is not None else None
        if found is None or raw_params is None:
            return self.router.match(path)
        return found[0], {k: unquote(v) for k, v in raw_params.items()}

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        """Serve one request through granian's RSGI interface (its fast path)."""
        await rsgi.serve(self, scope, protocol)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """granian's RSGI start-up: run the start-up hooks."""
        rsgi.init(self, loop)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        """granian's RSGI shutdown: drain and run the shutdown hooks."""
        rsgi.close(self, loop)

    async def _refuse(self, scope: Scope, error: Exception, send: Send) -> None:
        request = Request(scope)
        status = await send_error(self.options, request, error, send)
        for finalizer in self.options.finalizer:
            try:
                finalizer(request, status, 0.0)
            except Exception:
                _log.exception("kit-http finalizer failed for %r", request)

    async def _other(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1003})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.shutdown()
                except Exception as exc:
                    await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        """Run the start-up hooks and accept requests (the lifespan startup event)."""
        self._draining = False
        for hook in self.on_startup:
            await _run(hook)

    async def shutdown(self) -> None:
        """Drain, then run the shutdown hooks (the lifespan shutdown event)."""
        await self.drain(self.shutdown_timeout)
        self._watch.stop()
        for hook in self.on_shutdown:
            await _run(hook)

    async def drain(self, timeout: float | None = None) -> bool:
        """Refuse new requests (503) and wait for in-flight ones; False if ``timeout`` hit."""
        self._draining = True
        if not self._inflight:
            return True
        self._idle = idle = asyncio.Event()
        try:
            await asyncio.wait_for(idle.wait(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            return False
        finally:
            self._idle = None
        return True

    @property
    def inflight(self) -> int:
        """Requests being served right now."""
        return self._inflight

    @property
    def draining(self) -> bool:
        """True once shutdown began: new requests are refused."""
        return self._draining


def wrap(
    ep: Endpoint,
    name: str,
    middleware: Middleware | None,
    named_middleware: Callable[[str], Middleware] | None,
) -> Endpoint:
    """``ep`` inside ``named_middleware(name)``, inside ``middleware`` (outermost)."""
    if named_middleware is not None:
        ep = named_middleware(name)(ep)
    if middleware is not None:
        ep = middleware(ep)
    return ep


async def _run(hook: Hook) -> None:
    result = hook()
    if inspect.isawaitable(result):
        await result
