"""Services: a class whose typed async methods become endpoints, with no hand-written structs.

Go kit asks for a request struct, a response struct, a decoder and an encoder per method.
Here the request type is derived from each method's signature as a msgspec Struct
(defaults and optional parameters honoured), so every transport can decode, validate and
route a call from the method alone. The explicit Go kit style (your own request type and
your own decode/encode functions around a plain Endpoint) stays available.

A method that yields (``async def watch(...) -> AsyncIterator[T]``) is a server-streaming
method: ``Method.streaming`` is True, ``response_type`` is T (each item's type), and its
endpoint returns a ``kitcore.stream.Stream`` once the first item is ready (see there).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import msgspec
from msgspec.structs import asdict, astuple

from kitcore.codec import convert
from kitcore.endpoint import Endpoint
from kitcore.stream import item_type, opened

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = "__kit_method__"


def method(
    name: str | None = None, *, idempotent: bool = False, **options: Any
) -> Callable[[F], F]:
    """Mark a service method with a wire name and transport options (``http="GET /x/{id}"``).

    ``idempotent=True`` says a call may safely run twice (a read, a put of the same
    value): clients may then hedge it (send a backup attempt when the first is slow).
    """

    def mark(func: F) -> F:
        marked = {"name": name, **options}
        if idempotent:
            marked["idempotent"] = True
        setattr(func, _OPTIONS, marked)
        return func

    return mark


@dataclass(frozen=True)
class Method:
    """One service method: its name, request Struct type, response type and options.

    ``streaming``: the method yields its results (server streaming); ``response_type``
    is then the type of each item.
    """

    name: str
    attr: str
    request_type: type[msgspec.Struct]
    response_type: Any
    description: str
    options: Mapping[str, Any] = field(default_factory=dict)
    positional: bool = True
    streaming: bool = False

    @property
    def idempotent(self) -> bool:
        """True when the method is marked safe to call twice (``@method(idempotent=True)``)."""
        return bool(self.options.get("idempotent", False))

    @property
    def params(self) -> tuple[str, ...]:
        """The method's parameter names, in order."""
        return self.request_type.__struct_fields__

    def request(self, *args: Any, **kwargs: Any) -> msgspec.Struct:
        """Build the request Struct from Python call arguments, as the method would bind them."""
        if len(args) > len(self.params):
            raise TypeError(f"{self.name}() takes {len(self.params)} arguments")
        if args and not self.positional:
            kwargs = {**dict(zip(self.params, args, strict=False)), **kwargs}
            args = ()
        # Positional fields (see _method) take the arguments as the method would.
        return self.request_type(*args, **kwargs)


@dataclass(frozen=True)
class ServiceSpec:
    """A service's name, description and methods by wire name."""

    name: str
    description: str
    methods: Mapping[str, Method]


_specs: dict[type, ServiceSpec] = {}


def describe(service: object) -> ServiceSpec:
    """Return the spec of a service class or instance (derived once per class, then cached)."""
    cls = service if isinstance(service, type) else type(service)
    spec = _specs.get(cls)
    if spec is None:
        spec = _specs[cls] = _derive(cls)
    return spec


def _derive(cls: type) -> ServiceSpec:
    methods: dict[str, Method] = {}
    seen: set[str] = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        for attr, func in vars(klass).items():
            if attr.startswith("_") or attr in seen:
                continue
            seen.add(attr)
            if not (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)):
                continue
            m = _method(cls, attr, func)
            if m.name in methods:
                raise TypeError(f"{cls.__name__}: two methods named {m.name!r}")
            methods[m.name] = m
    return ServiceSpec(
        name=cls.__name__,
        description=inspect.getdoc(cls) or "",
        methods=MappingProxyType(methods),
    )


def _method(cls: type, attr: str, func: Callable[..., Any]) -> Method:
    options = dict(getattr(func, _OPTIONS, {}))
    name = options.pop("name", None) or attr
    hints = typing.get_type_hints(func, include_extras=True)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    params = list(inspect.signature(func).parameters.values())[1:]  # drop self
    positional = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise TypeError(f"{cls.__name__}.{attr}: parameter {p.name!r} must be named")
        annotation = hints.get(p.name, Any)
        if p.default is p.empty:
            fields.append((p.name, annotation))
        else:
            fields.append((p.name, annotation, p.default))
    streaming, response_type = item_type(hints.get("return", Any))
    if inspect.isasyncgenfunction(func) and not streaming:
        if "return" in hints:
            raise TypeError(
                f"{cls.__name__}.{attr} yields: annotate it -> AsyncIterator[T], "
                f"not {hints['return']!r}"
            )
        streaming = True
    request_type = msgspec.defstruct(
        f"{cls.__name__}.{attr}.Request",
        fields,
        # Keyword-only when the method has such parameters, so defaults may come first.
        kw_only=not positional,
        module=cls.__module__,
    )
    return Method(
        name=name,
        attr=attr,
        request_type=request_type,
        response_type=response_type,
        description=inspect.getdoc(func) or "",
        options=MappingProxyType(options),
        positional=positional,
        streaming=streaming,
    )


def endpoint(service: object, name: str) -> Endpoint:
    """Return the Endpoint calling ``service``'s method ``name`` with its request Struct.

    The endpoint also accepts a mapping, converted (and validated) into the request type.
    A streaming method's endpoint returns its ``Stream`` once the first item is ready.
    """
    m = describe(service).methods[name]
    bound = getattr(service, m.attr)
    request_type = m.request_type
    if m.streaming:

        async def call(request: Any) -> Any:
            if type(request) is not request_type:
                request = convert(request, request_type)
            return await opened(bound(**asdict(request)))

    elif m.positional:
        # astuple + positional call is about 3x cheaper than building a kwargs dict.
        async def call(request: Any) -> Any:
            if type(request) is not request_type:
                request = convert(request, request_type)
            return await bound(*astuple(request))

    else:

        async def call(request: Any) -> Any:
            if type(request) is not request_type:
                request = convert(request, request_type)
            return await bound(**asdict(request))

    call.__name__ = m.name
    call.__doc__ = m.description
    return call


def endpoints(service: object) -> dict[str, Endpoint]:
    """Return every method of a service instance as a named Endpoint."""
    return {name: endpoint(service, name) for name in describe(service).methods}
