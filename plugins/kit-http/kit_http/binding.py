"""How one typed service method maps onto HTTP, for the server and the client alike.

By default a method is ``POST /<name>`` and its JSON body is the request Struct itself.
A method may declare a REST route instead: ``@method(http="GET /profiles/{id}")``.
Then path parameters come from the path, the other parameters from the query string
(GET, HEAD, DELETE, OPTIONS) or from the JSON body object; ``body="profile"`` makes the
whole body one parameter, as grpc-gateway's ``body`` field does. Path and query values
are converted from text to the declared types (``"42"`` -> ``42``); the body is strict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec
from msgspec.structs import asdict

from kit_http.routing import BODYLESS, RouteSpec
from kitcore.service import Method

_SEQUENCES = (
    msgspec.inspect.ListType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
    msgspec.inspect.VarTupleType,
)


def _is_sequence(type_: Any) -> bool:
    try:
        info = msgspec.inspect.type_info(type_)
    except Exception:
        return False
    if isinstance(info, msgspec.inspect.UnionType):
        return any(isinstance(t, _SEQUENCES) for t in info.types)
    return isinstance(info, _SEQUENCES)


def field_spec(f: msgspec.structs.FieldInfo) -> tuple[Any, ...]:
    """``f`` as a ``msgspec.defstruct`` field: name, type and its default, if any."""
    if f.required:
        return (f.name, f.type)
    if f.default is not msgspec.NODEFAULT:
        return (f.name, f.type, f.default)
    return (f.name, f.type, msgspec.field(default_factory=f.default_factory))


def _struct(name: str, fields: list[msgspec.structs.FieldInfo]) -> type[msgspec.Struct]:
    return msgspec.defstruct(name, [field_spec(f) for f in fields], kw_only=True)


def _query_text(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return msgspec.json.encode(value).decode()


class Binding:
    """One typed method's route and the codecs that move its request through HTTP."""

    def __init__(self, method: Method, prefix: str = "") -> None:
        options = method.options
        spec = options.get("http")
        self.method = method
        route = RouteSpec.parse(spec or f"POST /{method.name}")
        self.route = RouteSpec.parse(f"{route.method} {prefix.rstrip('/')}{route.template}")
        body = options.get("body", "*")
        fields = {f.name: f for f in msgspec.structs.fields(method.request_type)}
        for p in self.route.params:
            if p not in fields:
                raise TypeError(f"{method.name}: route {self.route} names {p!r}, not a parameter")
        rest = [f for name, f in fields.items() if name not in self.route.params]
        if self.route.method in BODYLESS:
            self.body_param: str | None = None
            self.query_fields = [f.name for f in rest]
            body_fields: list[msgspec.structs.FieldInfo] = []
        elif body == "*":
            self.body_param = None
            self.query_fields = []
            body_fields = rest
        else:
            if body not in fields or body in self.route.params:
                raise TypeError(f"{method.name}: body={body!r} is not a non-path parameter")
            self.body_param = body
            self.query_fields = [f.name for f in rest if f.name != body]
            body_fields = []
        self.has_body = self.route.method not in BODYLESS
        self.direct = self.has_body and self.body_param is None and not self.route.params
        """True when the JSON body is the whole request Struct (the fast path)."""
        name = method.request_type.__name__
        params = [fields[p] for p in (*self.route.params, *self.query_fields)]
        self._params_type = _struct(f"{name}.Params", params)
        self._sequences = frozenset(f.name for f in params if _is_sequence(f.type))
        self._body_fields = tuple(f.name for f in body_fields)
        if self.body_param is not None:
            self.body_type: Any = fields[self.body_param].type
            self._body_required = fields[self.body_param].required
        else:
            self.body_type = _struct(f"{name}.Body", body_fields)
            self._body_required = False
        self._body_decoder = msgspec.json.Decoder(self.body_type)
        self.request_decoder = msgspec.json.Decoder(method.request_type)
        self.response_decoder = msgspec.json.Decoder(method.response_type)

    # -- server side ------------------------------------------------------------------

    def decode(self, body: bytes, path_params: Mapping[str, str] | None, query: bytes) -> Any:
        """Build the request Struct from the path, query and body; msgspec errors escape."""
        values: dict[str, Any] = dict(path_params) if path_params else {}
        if self.query_fields and query:
            sequences = self._sequences
            for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if key in sequences:
                    values.setdefault(key, []).append(value)
                elif key not in values:  # a path parameter wins over a query one
                    values[key] = value
        params = asdict(msgspec.convert(values, self._params_type, strict=False))
        if self.has_body:
            if self.body_param is not None:
                if body:
                    params[self.body_param] = self._body_decoder.decode(body)
                elif self._body_required:
                    msgspec.json.decode(b"", type=self.body_type)  # raises "truncated"
            else:
                params.update(asdict(self._body_decoder.decode(body or b"{}")))
        return self.method.request_type(**params)

    # -- client side ------------------------------------------------------------------

    def encode(self, request: msgspec.Struct) -> tuple[str, bytes | None]:
        """Return the request's path with query string, and its JSON body (None: none)."""
        if self.direct:
            return self.route.template, msgspec.json.encode(request)
        values = asdict(request)
        target = self.route.format(values)
        pairs: list[tuple[str, str]] = []
        for name in self.query_fields:
            value = values[name]
            if value is None:
                continue
            if name in self._sequences and isinstance(value, list | tuple | set | frozenset):
                pairs += [(name, _query_text(v)) for v in value]
            else:
                pairs.append((name, _query_text(value)))
        if pairs:
            target = f"{target}?{urlencode(pairs)}"
        if not self.has_body:
            return target, None
        if self.body_param is not None:
            return target, msgspec.json.encode(values[self.body_param])
        return target, msgspec.json.encode({n: values[n] for n in self._body_fields})
