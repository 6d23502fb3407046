"""Request-reply over a message broker: one wire form for every broker transport.

A request is a message whose body is the method's request Struct as JSON, with the
method's name (``Kit-Method``, or the subject's last token on NATS) and the caller's
deadline (``Kit-Timeout``: milliseconds left and the instant, see
``kitcore.messaging.deadlines``) in its headers. A reply carries
the JSON result; a failed call carries the typed error's wire form
``{"code", "message", "details"}`` and the ``Kit-Error`` header naming its code, so the
caller raises the same class with the same fields whatever the broker.

``Dispatcher`` is the server's side: from a message to a reply, through Go kit's server
options, never raising: a malformed payload, an oversize message or an unknown method
is a typed error reply, so one bad message never stops a subscriber. A request past its
deadline on arrival is answered DeadlineExceeded unserved; a call that outlives it is
cancelled and answered the same (one timer for all calls: ``Deadlines``). A stopping
server waits for its calls in flight itself (graceful drain).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

import msgspec
from msgspec.structs import astuple

from kitcore import context
from kitcore.codec import DECODE_ERRORS, decode_failure, encode
from kitcore.deadlines import current_task
from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import (
    DeadlineExceeded,
    Internal,
    InvalidArgument,
    KitError,
    NotFound,
    Unavailable,
    from_wire,
)
from kitcore.messaging.deadlines import TIMEOUT_HEADER as TIMEOUT_HEADER
from kitcore.messaging.deadlines import Deadlines, deadline_headers, deadline_of
from kitcore.service import ServiceSpec, describe, endpoint

METHOD_HEADER = "Kit-Method"
"""Request header naming the method to call."""
ERROR_HEADER = "Kit-Error"
"""Reply header marking a failed call; its value is the error's wire code."""

MIB = 1024 * 1024

_log = logging.getLogger("kitcore.messaging")


@dataclass
class Message:
    """A request as received: the method, headers, body, reply address and the raw message."""

    method: str
    headers: Mapping[str, str]
    body: bytes
    reply: str = ""
    raw: Any = None


@dataclass
class Reply:
    """A reply about to be sent: its body and headers (``after`` functions may edit them)."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """True when the reply carries an error."""
        return ERROR_HEADER in self.headers


Before: TypeAlias = Callable[[Message], "Mapping[str, Any] | None"]
"""Reads the request (headers); returns values to bind into ``kitcore.context`` (or None)."""
After: TypeAlias = Callable[[Message, Reply], None]
"""Edits the reply before it is sent."""
ErrorEncoder: TypeAlias = Callable[[Message, BaseException], Reply]
"""Turns an error into the reply to send."""
ErrorHandler: TypeAlias = Callable[[Message, BaseException], None]
"""Sees every error (decode, endpoint, encode, a request that cannot be answered)."""
Finalizer: TypeAlias = Callable[[Message, "BaseException | None", float], None]
"""Sees every request's error (None: success) and duration in seconds."""


def wire_error(error: BaseException) -> KitError:
    """The typed error to send: a KitError as is, anything else as Internal (text withheld)."""
    return error if isinstance(error, KitError) else Internal("internal error")


def default_error_encoder(message: Message, error: BaseException) -> Reply:
    """Write the typed error's wire form, with ``Kit-Error: <code>``."""
    kit_error = wire_error(error)
    return Reply(encode(kit_error.to_wire()), {ERROR_HEADER: kit_error.code})


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return (value,) if callable(value) else tuple(value)


@dataclass(frozen=True)
class ServerOptions:
    """Go kit's subscriber options, all optional; see ``kit_http.options`` for HTTP's twin."""

    before: tuple[Before, ...] = ()
    after: tuple[After, ...] = ()
    error_encoder: ErrorEncoder = default_error_encoder
    error_handler: ErrorHandler | None = None
    finalizer: tuple[Finalizer, ...] = ()
    max_payload: int = MIB
    """Largest request body served, in bytes; larger ones get InvalidArgument unread."""
    timeout: float | None = None
    """Cap on each call, in seconds; the caller's ``Kit-Timeout`` bounds it too."""
    wall_clock: bool = True
    """Honour the instant in ``Kit-Timeout`` (the caller's clock); off where clocks disagree."""

    @classmethod
    def build(cls, **options: Any) -> ServerOptions:
        """Options from keyword arguments; unknown names raise TypeError."""
        return cls().merge(**options)

    def merge(self, **options: Any) -> ServerOptions:
        """Return a copy with ``options`` replacing these; unknown names raise TypeError."""
        changes: dict[str, Any] = {}
        for name, value in options.items():
            if name not in self.__dataclass_fields__:
                raise TypeError(f"unknown server option {name!r}")
            if name in ("before", "after", "finalizer"):
                value = _tuple(value)
            elif name == "error_encoder" and value is None:
                value = default_error_encoder
            elif name == "max_payload" and (not isinstance(value, int) or value < 0):
                raise ValueError(f"max_payload must be a non-negative int, got {value!r}")
            elif name == "timeout" and value is not None and not value > 0:
                raise ValueError(f"timeout must be > 0, got {value!r}")
            changes[name] = value
        return replace(self, **changes) if changes else self


Decode: TypeAlias = Callable[[bytes], Any]
"""An explicit decode function: the request body -> the endpoint's request."""
Encode: TypeAlias = Callable[[Any], bytes]
"""An explicit encode function: the endpoint's response -> the reply body."""


class Route:
    """One method: its endpoint and the codecs around it."""

    __slots__ = ("decode", "encode", "endpoint", "method")

    def __init__(
        self,
        endpoint: Endpoint,
        decode: Decode,
        encode: Encode,
        method: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.decode = decode
        self.encode = encode
        # A service method with no middleware is called straight from the Struct's fields.
        self.method = method

    def call(self, request: Any) -> Awaitable[Any]:
        """Call the endpoint (or the plain method) with the decoded request."""
        # Not a coroutine itself: one frame fewer on every request.
        if self.method is not None:
            return self.method(*astuple(request))
        return self.endpoint(request)


def _wrap(
    ep: Endpoint,
    name: str,
    middleware: Middleware | None,
    named_middleware: Callable[[str], Middleware] | None,
) -> Endpoint:
    if named_middleware is not None:
        ep = named_middleware(name)(ep)
    if middleware is not None:
        ep = middleware(ep)
    return ep


class Dispatcher:
    """Serves request messages for service instances and endpoint sets: message -> reply.

    ``targets`` are service instances (each method by its wire name) and mappings of
    name -> Endpoint (JSON in and out). ``options`` are the ``ServerOptions``.
    """

    def __init__(
        self,
        *targets: object,
        middleware: Middleware | None = None,
        named_middleware: Callable[[str], Middleware] | None = None,
        **options: Any,
    ) -> None:
        self.options = ServerOptions.build(**options)
        self.routes: dict[str, Route] = {}
        self.specs: list[ServiceSpec] = []
        self.deadlines = Deadlines()
        for target in targets:
            if isinstance(target, Mapping):
                for name, ep in target.items():
                    self.add(name, _wrap(ep, name, middleware, named_middleware))
            else:
                self.add_service(target, middleware=middleware, named_middleware=named_middleware)

    def add(
        self,
        name: str,
        ep: Endpoint,
        decode: Decode | None = None,
        encode_: Encode | None = None,
        *,
        request_type: Any = Any,
    ) -> Dispatcher:
        """Serve ``ep`` as method ``name`` (Go kit style: explicit decode and encode)."""
        if name in self.routes:
            raise ValueError(f"method {name!r} is served already")
        self.routes[name] = Route(
            ep, decode or msgspec.json.Decoder(request_type).decode, encode_ or encode
        )
        return self

    def add_service(
        self,
        service: object,
        *,
        middleware: Middleware | None = None,
        named_middleware: Callable[[str], Middleware] | None = None,
    ) -> Dispatcher:
        """Serve every method of a typed service instance."""
        if isinstance(service, type):
            raise TypeError(f"pass an instance of {service.__name__}, not the class")
        spec = describe(service)
        if not spec.methods:
            raise TypeError(f"{type(service).__name__} has no public async methods to serve")
        self.specs.append(spec)
        plain = middleware is None and named_middleware is None
        for name, m in spec.methods.items():
            if m.streaming:
                continue  # one reply per request here: streams are served on HTTP and gRPC
            if name in self.routes:
                raise ValueError(f"method {name!r} is served already")
            ep = _wrap(endpoint(service, name), name, middleware, named_middleware)
            direct = getattr(service, m.attr) if plain and m.positional else None
            self.routes[name] = Route(
                ep, msgspec.json.Decoder(m.request_type).decode, encode, direct
            )
        return self

    async def handle(self, message: Message) -> Reply:
        """Serve one request; every failure becomes the error encoder's reply."""
        # One coroutine frame for the whole request, the checks before the call in a
        # plain method: every request runs this, and each frame is a measurable share
        # of a small call.
        options = self.options
        finalizers = options.finalizer
        start = time.perf_counter() if finalizers else 0.0
        error: BaseException | None = None
        try:
            try:
                route, request, instant, values, loop = self._admit(message)
                bound = context.enter_values(values) if values else None
                task = entry = token = None
                if instant is not None:
                    task = current_task(loop or asyncio.get_running_loop())
                    if task is not None:
                        entry = self.deadlines.enter(instant, task)
                    # The handler sees the deadline (context.remaining()) and passes it on.
                    token = context.enter_deadline(instant)
                cancelled = False
                try:
                    result = await route.call(request)
                except asyncio.CancelledError:
                    cancelled = True
                    raise
                finally:
                    context.exit_deadline(token)
                    context.exit_values(bound)
                    self.deadlines.exit(entry, task, cancelled)
                reply = Reply(route.encode(result))
                for after in options.after:
                    after(message, reply)
            except Exception as exc:
                error = exc
                reply = self.fail(message, exc)
            return reply
        finally:
            if finalizers:
                seconds = time.perf_counter() - start
                for finalizer in finalizers:
                    try:
                        finalizer(message, error, seconds)
                    except Exception:
                        _log.exception("finalizer failed for %s", message.method)

    def _admit(
        self, message: Message
    ) -> tuple[Route, Any, float | None, dict[str, Any], asyncio.AbstractEventLoop | None]:
        """What serving ``message`` needs, or the typed error refusing it unserved:
        its route, decoded request, deadline, the before functions' values, and the
        running loop when the deadline needed its clock."""
        options = self.options
        # The deadline is read first: the time spent below counts against it.
        instant = loop = None
        if message.headers or options.timeout is not None:
            loop = asyncio.get_running_loop()
            now = loop.time()
            instant = deadline_of(message.headers, options.timeout, options.wall_clock, now)
            if instant is not None and instant <= now:
                raise DeadlineExceeded("deadline exceeded before the request was served")
        values: dict[str, Any] = {}
        for before in options.before:
            found = before(message)
            if found:
                values.update(found)
        if len(message.body) > options.max_payload:
            raise InvalidArgument(
                f"message too large: {len(message.body)} bytes, limit {options.max_payload}",
                details={"limit": options.max_payload, "size": len(message.body)},
            )
        route = self.routes.get(message.method)
        if route is None:
            raise NotFound(
                f"unknown method {message.method!r}",
                details={"method": message.method, "methods": sorted(self.routes)},
            )
        try:
            request = route.decode(message.body or b"{}")
        except DECODE_ERRORS as exc:
            raise decode_failure(exc) from None
        except KitError:
            raise
        except Exception as exc:  # an explicit decoder's own refusal: bad input all the same
            raise InvalidArgument(f"request did not decode: {type(exc).__name__}: {exc}") from None
        outer = context.deadline()
        if outer is not None and (instant is None or outer < instant):
            instant = outer
        return route, request, instant, values, loop

    def fail(self, message: Message, error: BaseException) -> Reply:
        """Report ``error`` to the error handler; return what the error encoder makes of it."""
        handler = self.options.error_handler
        if handler is not None:
            try:
                handler(message, error)
            except Exception:
                _log.exception("error handler failed for %s", message.method)
        elif not isinstance(error, KitError):
            _log.error("unexpected error serving %s", message.method, exc_info=error)
        try:
            return self.options.error_encoder(message, error)
        except Exception:
            _log.exception("error encoder failed for %s", message.method)
            return default_error_encoder(message, error)

    def unanswerable(self, message: Message, error: KitError) -> None:
        """A request that cannot be answered (no reply address): the error handler sees it."""
        handler = self.options.error_handler
        if handler is not None:
            try:
                handler(message, error)
            except Exception:
                _log.exception("error handler failed for %s", message.method)
        else:
            _log.warning("dropped request for %s: %s", message.method, error.message)


# -- the client's side ---------------------------------------------------------------


def request_headers(method: str | None, cap: float | None) -> tuple[dict[str, str], float | None]:
    """Headers for a call to ``method``, and the seconds it may take (None: unbounded).

    ``method`` goes in ``Kit-Method`` (None: the transport names it otherwise, as NATS
    does in the subject). The caller's deadline, capped at ``cap``, is sent as
    ``Kit-Timeout`` (time left and its instant); a deadline already passed raises
    DeadlineExceeded before anything is sent.
    """
    left = context.remaining()
    if cap is not None and (left is None or cap < left):
        left = cap
    if left is None:
        return ({METHOD_HEADER: method} if method is not None else {}), None
    if left <= 0:
        raise DeadlineExceeded("deadline exceeded before the call was sent")
    headers = deadline_headers(left)
    if method is not None:
        headers[METHOD_HEADER] = method
    return headers, left


def raise_for_reply(headers: Mapping[str, str] | None, body: bytes) -> None:
    """Raise the typed error a reply carries, if it carries one."""
    if not headers or ERROR_HEADER not in headers:
        return
    try:
        wire = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        wire = {"code": headers[ERROR_HEADER], "message": body[:200].decode("utf-8", "replace")}
    raise from_wire(wire)


class ClientCodec:
    """A typed service's requests and replies on the wire, for a transport's client."""

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self._decoders = {
            name: msgspec.json.Decoder(m.response_type) for name, m in spec.methods.items()
        }

    def decode(self, method: str, headers: Mapping[str, str] | None, body: bytes) -> Any:
        """The method's result from its reply; a failed call raises its typed error."""
        raise_for_reply(headers, body)
        try:
            return self._decoders[method].decode(body)
        except msgspec.MsgspecError as exc:
            raise Internal(f"bad reply to {method}: {exc}") from exc


def unavailable(what: str, exc: BaseException) -> Unavailable:
    """The Unavailable error for a broker that could not take or answer a request."""
    return Unavailable(f"{what}: {type(exc).__name__}: {exc}")


def targets_of(target: Any) -> Iterable[object]:
    """A serve target as the Dispatcher's targets: a class is instantiated, a tuple spread."""
    if isinstance(target, tuple | list):
        return [t() if isinstance(t, type) else t for t in target]
    return [target() if isinstance(target, type) else target]
