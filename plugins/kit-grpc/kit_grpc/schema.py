"""Protobuf for a typed service, derived at run time from its method signatures: no protoc.

Each method ``name(a: A, b: B) -> R`` becomes ``rpc Name(NameRequest) returns
(NameResponse)``: the request message has one field per parameter, in order, and the
response message one field ``result`` (none when the method returns None). A method that
yields (``-> AsyncIterator[T]``) is ``rpc Name(NameRequest) returns (stream
NameResponse)``, each response carrying one item in ``result``. Types map as proto3 does
them:

- ``int`` -> int64, ``float`` -> double, ``str`` -> string, ``bytes`` -> bytes,
  ``bool`` -> bool; a msgspec Struct -> a message of its fields; an Enum -> an enum whose
  value 0 is ``<ENUM>_UNSPECIFIED`` and whose members follow in order (receiving 0 or an
  unknown number is InvalidArgument).
- ``list[T]`` (set, frozenset, ``tuple[T, ...]``) -> ``repeated T``; ``dict[K, V]``
  (K str, int or bool) -> ``map<K, V>``.
- ``T | None``, and any parameter with a default, -> a field with presence (proto3
  ``optional``, or a message): absent means None, or the parameter's default.
- What proto3 cannot nest (a list of lists, a list of optionals, a map of lists, an
  optional list) goes through a one-field wrapper message nested in its parent.

Absent fields without presence read as proto3 zero values (``0``, ``""``, ``[]``), as in
every proto3 library. Types with no protobuf form (``Any``, unions other than with None,
datetimes...) raise TypeError when the schema is built, naming the method and field.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import msgspec
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError, Message  # type: ignore[import-untyped]

from kitcore.codec import convert
from kitcore.errors import Internal, InvalidArgument
from kitcore.service import Method, ServiceSpec, describe

Convert = Callable[[Any], Any]
"""Converts one value between its builtin form (msgspec.to_builtins) and protobuf's."""

DEFAULT_PACKAGE = "kit"
"""The proto package of a service unless one is given: ``kit.StringService``."""

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS: dict[type, int] = {
    msgspec.inspect.IntType: _F.TYPE_INT64,
    msgspec.inspect.FloatType: _F.TYPE_DOUBLE,
    msgspec.inspect.StrType: _F.TYPE_STRING,
    msgspec.inspect.BytesType: _F.TYPE_BYTES,
    msgspec.inspect.ByteArrayType: _F.TYPE_BYTES,
    msgspec.inspect.MemoryViewType: _F.TYPE_BYTES,
    msgspec.inspect.BoolType: _F.TYPE_BOOL,
}
_SEQUENCES = (
    msgspec.inspect.ListType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
    msgspec.inspect.VarTupleType,
)
_MAP_KEYS = (msgspec.inspect.IntType, msgspec.inspect.StrType, msgspec.inspect.BoolType)
_BYTES_TYPES = (bytes, bytearray, memoryview)


def pascal(name: str) -> str:
    """``"get_profile"`` -> ``"GetProfile"``: proto's style for messages and methods."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


class _Class:
    """A message class, filled in once the descriptor pool is built (converters read it)."""

    __slots__ = ("cls",)

    def __init__(self) -> None:
        self.cls: Any = None


@dataclass
class _Field:
    """How one field's value converts; ``presence``: the wire says whether it was set."""

    to_pb: Convert | None
    from_pb: Convert | None
    presence: bool


def _optional(info: Any) -> Any | None:
    """The T of ``T | None``, or None when ``info`` is not such a union."""
    if isinstance(info, msgspec.inspect.UnionType):
        others = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(others) == 1 and len(others) < len(info.types):
            return others[0]
    return None


def _plain(info: Any) -> bool:
    """True when ``info`` can be a repeated element or map value as is (no wrapper)."""
    return type(info) in _SCALARS or isinstance(
        info, msgspec.inspect.EnumType | msgspec.inspect.StructType
    )


def _type_name(info: Any) -> str:
    cls = getattr(info, "cls", None)
    return cls.__name__ if cls is not None else type(info).__name__.removesuffix("Type")


FieldSpec = tuple[str, Any, bool]
"""One message field: its name, msgspec type info, and whether it is required."""


class _Builder:
    """Builds one service's FileDescriptorProto and the converters of its messages."""

    def __init__(self, package: str, file_name: str) -> None:
        self.file = descriptor_pb2.FileDescriptorProto(
            name=file_name, package=package, syntax="proto3"
        )
        self.package = package
        self.classes: dict[str, _Class] = {}
        self.structs: dict[type, tuple[str, _Field]] = {}
        self.enums: dict[type, tuple[str, _Field]] = {}
        self.taken: set[str] = set()
        self.fields_of: dict[str, dict[str, _Field]] = {}

    def unique(self, name: str) -> str:
        """A top-level name not used yet in this file."""
        candidate, n = name, 2
        while candidate in self.taken:
            candidate, n = f"{name}{n}", n + 1
        self.taken.add(candidate)
        return candidate

    def top_message(self, name: str, fields: list[FieldSpec], where: str) -> tuple[str, _Field]:
        """A top-level message of ``fields``; returns its full name and converters."""
        desc = self.file.message_type.add(name=name)
        return self.fields_message(desc, f"{self.package}.{name}", fields, where)

    def fields_message(
        self, desc: descriptor_pb2.DescriptorProto, full: str, fields: list[FieldSpec], where: str
    ) -> tuple[str, _Field]:
        """Fill ``desc`` (named ``full``) with ``fields``; return converters of the message."""
        holder = self.classes[full] = _Class()
        plans: list[tuple[str, _Field, bool]] = []
        for number, (name, info, required) in enumerate(fields, 1):
            inner = _optional(info)
            # An Optional container stays a union here: field() wraps it to give it presence.
            ftype = inner if inner is not None and _plain(inner) else info
            presence = inner is not None or not required
            field = self.field(desc, full, name, number, ftype, presence, f"{where}.{name}")
            # A required Optional absent on the wire is None; the others take their default.
            plans.append((name, field, inner is not None and required))
        self.fields_of[full] = {name: field for name, field, _ in plans}
        return full, _Field(_to_message(holder, plans), _from_message(plans), True)

    def struct(self, info: msgspec.inspect.StructType) -> tuple[str, _Field]:
        """The message of a Struct class, built once per class (recursion allowed)."""
        found = self.structs.get(info.cls)
        if found is not None:
            return found
        name = self.unique(info.cls.__name__.rsplit(".", 1)[-1])
        full = f"{self.package}.{name}"
        # Registered before its fields are built, so a Struct holding itself finds itself.
        field = _Field(None, None, True)
        self.structs[info.cls] = (full, field)
        fields = [(f.name, f.type, f.required) for f in info.fields]
        built = self.top_message(name, fields, info.cls.__name__)[1]
        field.to_pb, field.from_pb = built.to_pb, built.from_pb
        return full, field

    def enum(self, cls: type[enum.Enum]) -> tuple[str, _Field]:
        """The enum of an Enum class: 0 is ``<ENUM>_UNSPECIFIED``, members follow in order."""
        found = self.enums.get(cls)
        if found is not None:
            return found
        name = self.unique(cls.__name__)
        prefix = "".join(f"_{c}" if c.isupper() else c.upper() for c in name).lstrip("_")
        desc = self.file.enum_type.add(name=name)
        desc.value.add(name=f"{prefix}_UNSPECIFIED", number=0)
        to_number: dict[Any, int] = {}
        to_value: dict[int, Any] = {}
        for number, member in enumerate(cls, 1):
            desc.value.add(name=f"{prefix}_{member.name.upper()}", number=number)
            to_number[member.value] = number
            to_value[number] = member.value

        def from_pb(number: int) -> Any:
            try:
                return to_value[number]
            except KeyError:
                raise InvalidArgument(
                    f"invalid request: {number} is not a value of enum {name}",
                    details={"enum": name, "value": number},
                ) from None

        found = (f"{self.package}.{name}", _Field(to_number.__getitem__, from_pb, True))
        self.enums[cls] = found
        return found

    def field(
        self,
        desc: descriptor_pb2.DescriptorProto,
        scope: str,
        name: str,
        number: int,
        info: Any,
        presence: bool,
        where: str,
    ) -> _Field:
        """Declare field ``name`` of type ``info`` in ``desc`` (named ``scope``)."""
        f = desc.field.add(name=name, number=number, json_name=name, label=_F.LABEL_OPTIONAL)
        if _plain(info):
            field = self.value(f, info)
            if presence and not isinstance(info, msgspec.inspect.StructType):
                f.proto3_optional = True
                f.oneof_index = len(desc.oneof_decl)
                desc.oneof_decl.add(name=f"_{name}")
            return _Field(field.to_pb, field.from_pb, presence)
        if isinstance(info, _SEQUENCES) and not _optional(info):
            # A container with a default: an empty one on the wire reads as the default.
            f.label = _F.LABEL_REPEATED
            item = self.element(desc, scope, f, name, "Item", info.item_type, where)
            to, frm = item.to_pb, item.from_pb
            to_list = _each(to)
            from_list = _each(frm) or list
            if presence:
                return self._omit_empty(to_list, from_list)
            return _Field(to_list, from_list, False)
        if isinstance(info, msgspec.inspect.DictType):
            if not isinstance(info.key_type, _MAP_KEYS):
                raise TypeError(f"{where}: map keys must be str, int or bool")
            entry = desc.nested_type.add(name=f"{pascal(name)}Entry")
            entry.options.map_entry = True
            entry_full = f"{scope}.{entry.name}"
            self.field(entry, entry_full, "key", 1, info.key_type, False, where)
            vf = entry.field.add(name="value", number=2, json_name="value", label=_F.LABEL_OPTIONAL)
            # A map entry may not nest types: a value's wrapper lives beside the entry.
            value = self.element(desc, scope, vf, name, "Value", info.value_type, where)
            f.type = _F.TYPE_MESSAGE
            f.label = _F.LABEL_REPEATED
            f.type_name = f".{entry_full}"
            to, frm = value.to_pb, value.from_pb
            to_map = None if to is None else (lambda v: {k: to(x) for k, x in v.items()})
            from_map = dict if frm is None else (lambda v: {k: frm(x) for k, x in v.items()})
            if presence:
                return self._omit_empty(to_map, from_map)
            return _Field(to_map, from_map, False)
        if _optional(info) is not None or isinstance(info, _SEQUENCES):
            return self.wrapped(desc, scope, f, name, "Value", info, where)
        raise TypeError(
            f"{where}: {_type_name(info)} has no protobuf form: use int, float, str, bytes, "
            "bool, a Struct, an Enum, or list, dict or Optional of those"
        )

    @staticmethod
    def _omit_empty(to_pb: Convert | None, from_pb: Convert) -> _Field:
        """A container with a default: empty on the wire means "use the default"."""

        def read(v: Any) -> Any:
            return from_pb(v) if len(v) else _ABSENT

        return _Field(to_pb, read, False)

    def value(self, f: descriptor_pb2.FieldDescriptorProto, info: Any) -> _Field:
        """Set the type of ``f`` to a plain ``info``: a scalar, an enum or a message."""
        kind = type(info)
        if kind in _SCALARS:
            f.type = _SCALARS[kind]
            return _Field(None, None, False)
        if isinstance(info, msgspec.inspect.EnumType):
            f.type = _F.TYPE_ENUM
            full, conv = self.enum(info.cls)
        else:
            f.type = _F.TYPE_MESSAGE
            full, conv = self.struct(info)
        f.type_name = "." + full
        # Through the cell: a recursive Struct's converters are set after this call.
        return _Field(lambda v: conv.to_pb(v), lambda v: conv.from_pb(v), False)  # type: ignore[misc]

    def element(
        self,
        desc: descriptor_pb2.DescriptorProto,
        scope: str,
        f: descriptor_pb2.FieldDescriptorProto,
        name: str,
        suffix: str,
        info: Any,
        where: str,
    ) -> _Field:
        """Type ``f`` (a repeated element or map value): plain as is, else wrapped."""
        if _plain(info):
            return self.value(f, info)
        return self.wrapped(desc, scope, f, name, suffix, info, where)

    def wrapped(
        self,
        desc: descriptor_pb2.DescriptorProto,
        scope: str,
        f: descriptor_pb2.FieldDescriptorProto,
        name: str,
        suffix: str,
        info: Any,
        where: str,
    ) -> _Field:
        """Type ``f`` as a one-field wrapper message ``<Name><Suffix>`` nested in ``desc``."""
        inner = _optional(info)
        if inner is not None and not _plain(inner):
            info = inner  # the wrapper's own presence says None
        wrapper = desc.nested_type.add(name=f"{pascal(name)}{suffix}")
        full = f"{scope}.{wrapper.name}"
        f.type = _F.TYPE_MESSAGE
        f.type_name = "." + full
        conv = self.fields_message(wrapper, full, [("value", info, True)], where)[1]
        to, frm = conv.to_pb, conv.from_pb
        assert to is not None and frm is not None
        return _Field(lambda v: to({"value": v}), lambda m: frm(m).get("value"), True)


def _each(conv: Convert | None) -> Convert | None:
    """Apply ``conv`` to each item of a list (None: nothing to convert)."""
    if conv is None:
        return None
    return lambda v: [conv(x) for x in v]


_ABSENT: Any = object()
"""What a container field with a default reads as when empty: the default applies."""


def _to_message(holder: _Class, plans: list[tuple[str, _Field, bool]]) -> Convert:
    steps = [(name, field.to_pb) for name, field, _ in plans]

    def to_pb(value: Any) -> Any:
        kwargs = {}
        for name, conv in steps:
            item = value.get(name)
            if item is not None:
                kwargs[name] = item if conv is None else conv(item)
        return holder.cls(**kwargs)

    return to_pb


def _from_message(plans: list[tuple[str, _Field, bool]]) -> Convert:
    plain = [(n, f.from_pb) for n, f, _ in plans if not f.presence]
    present = [(n, f.from_pb, none) for n, f, none in plans if f.presence]

    def from_pb(msg: Any) -> Any:
        out = {}
        for name, conv in plain:
            item = getattr(msg, name)
            if conv is not None:
                item = conv(item)
                if item is _ABSENT:
                    continue
            out[name] = item
        for name, conv, none in present:
            if msg.HasField(name):
                item = getattr(msg, name)
                out[name] = item if conv is None else conv(item)
            elif none:
                out[name] = None
        return out

    return from_pb


_RESULT = "result"
_to_builtins_options: dict[str, Any] = {"builtin_types": _BYTES_TYPES}


class MethodSchema:
    """One method on the wire: its gRPC path and how requests and results are encoded."""

    def __init__(
        self,
        method: Method,
        service: str,
        request: tuple[str, _Field],
        response: tuple[str, _Field],
        result: _Field | None,
        classes: Mapping[str, _Class],
    ) -> None:
        self.method = method
        self.name = pascal(method.name)
        self.path = f"/{service}/{self.name}"
        self.request_name, request_field = request
        self.response_name, response_field = response
        self._request_class = classes[self.request_name]
        self._response_class = classes[self.response_name]
        assert request_field.to_pb and request_field.from_pb and response_field.to_pb
        self._request_to = request_field.to_pb
        self._request_from = request_field.from_pb
        self._result = result
        self._response_to = response_field.to_pb
        self._request_type = method.request_type
        self._response_type = method.response_type

    @property
    def request_class(self) -> type[Message]:
        """The generated protobuf class of the request message."""
        return self._request_class.cls  # type: ignore[no-any-return]

    @property
    def response_class(self) -> type[Message]:
        """The generated protobuf class of the response message."""
        return self._response_class.cls  # type: ignore[no-any-return]

    def decode_request(self, data: bytes) -> msgspec.Struct:
        """Wire bytes -> the method's request Struct; malformed input is InvalidArgument."""
        try:
            msg = self._request_class.cls.FromString(data)
        except DecodeError as exc:
            raise InvalidArgument(
                f"invalid request: malformed {self.request_name} message: {exc}",
                details={"reason": "malformed protobuf"},
            ) from None
        return convert(self._request_from(msg), self._request_type)  # type: ignore[no-any-return]

    def encode_request(self, request: msgspec.Struct) -> bytes:
        """The request Struct -> wire bytes; values out of protobuf's range are InvalidArgument."""
        try:
            msg = self._request_to(msgspec.to_builtins(request, **_to_builtins_options))
            return msg.SerializeToString()  # type: ignore[no-any-return]
        except (ValueError, TypeError) as exc:
            raise InvalidArgument(f"cannot encode {self.request_name}: {exc}") from None

    def encode_response(self, value: Any) -> bytes:
        """The method's result -> wire bytes (a result protobuf cannot carry raises)."""
        cls = self._response_class.cls
        if self._result is None or value is None:
            return cls().SerializeToString()  # type: ignore[no-any-return]
        builtin = msgspec.to_builtins(value, **_to_builtins_options)
        return self._response_to({_RESULT: builtin}).SerializeToString()  # type: ignore[no-any-return]

    def decode_response(self, data: bytes) -> Any:
        """Wire bytes -> the method's result, typed; a malformed response is Internal."""
        try:
            msg = self._response_class.cls.FromString(data)
        except DecodeError as exc:
            raise Internal(f"malformed {self.response_name} response: {exc}") from None
        if self._result is None:
            return None
        result = self._result
        if result.presence and not msg.HasField(_RESULT):
            return None
        value = getattr(msg, _RESULT)
        if result.from_pb is not None:
            value = result.from_pb(value)
            if value is _ABSENT:
                value = []
        try:
            return msgspec.convert(value, self._response_type)
        except msgspec.ValidationError as exc:
            raise Internal(f"bad {self.response_name} response: {exc}") from None


@dataclass(frozen=True)
class Schema:
    """A service's protobuf: its file descriptor, pool, full service name and methods."""

    file: descriptor_pb2.FileDescriptorProto
    pool: descriptor_pool.DescriptorPool
    service: str
    methods: Mapping[str, MethodSchema]
    """By kit method name."""


_schemas: dict[tuple[int, str], tuple[ServiceSpec, Schema]] = {}


def schema(service: object, package: str = DEFAULT_PACKAGE) -> Schema:
    """The Schema of a service class, instance or ServiceSpec (built once per spec and package)."""
    spec = service if isinstance(service, ServiceSpec) else describe(service)
    key = (id(spec), package)
    found = _schemas.get(key)
    if found is None or found[0] is not spec:
        found = _schemas[key] = (spec, build(spec, package))
    return found[1]


def build(spec: ServiceSpec, package: str = DEFAULT_PACKAGE) -> Schema:
    """Build the Schema of ``spec``: messages, enums and the service, in a pool of its own."""
    builder = _Builder(package, f"{package.replace('.', '/')}/{spec.name}.proto")
    builder.taken.add(spec.name)
    service = builder.file.service.add(name=spec.name)
    parts: list[tuple[Method, tuple[str, _Field], tuple[str, _Field], _Field | None]] = []
    for m in spec.methods.values():
        where = f"{spec.name}.{m.attr}"
        info = msgspec.inspect.type_info(m.request_type)
        assert isinstance(info, msgspec.inspect.StructType)
        fields = [(f.name, f.type, f.required) for f in info.fields]
        name = pascal(m.name)
        request = builder.top_message(builder.unique(f"{name}Request"), fields, where)
        result_info = msgspec.inspect.type_info(m.response_type)
        returns_none = isinstance(result_info, msgspec.inspect.NoneType)
        out_fields = [] if returns_none else [(_RESULT, m.response_type, True)]
        try:
            response = builder.top_message(
                builder.unique(f"{name}Response"),
                [(n, msgspec.inspect.type_info(t), r) for n, t, r in out_fields],
                f"{where} result",
            )
        except TypeError as exc:
            raise TypeError(f"{exc} (return type of {where})") from None
        result = None
        if not returns_none:
            # The result's own converter: the response message's single field.
            result = _result_field(builder, response[0])
        service.method.add(
            name=name,
            input_type="." + request[0],
            output_type="." + response[0],
            server_streaming=m.streaming,
        )
        parts.append((m, request, response, result))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(builder.file)
    for full, holder in builder.classes.items():
        holder.cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(full))
    full_service = f"{package}.{spec.name}"
    methods = {
        m.name: MethodSchema(m, full_service, request, response, result, builder.classes)
        for m, request, response, result in parts
    }
    return Schema(builder.file, pool, full_service, MappingProxyType(methods))


def _result_field(builder: _Builder, response: str) -> _Field:
    return builder.fields_of[response][_RESULT]
