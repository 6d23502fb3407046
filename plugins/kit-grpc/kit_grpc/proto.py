"""The .proto text of a derived schema, so that any language's protoc makes a client for it.

Prints exactly the FileDescriptorProto the server serves (and reflection reports):
messages with their nested wrappers and map entries, proto3 ``optional`` fields, enums
and the service (a streaming method ``returns (stream ...)``). ``kit proto module:attr`` prints it.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2  # type: ignore[import-untyped]

_F = descriptor_pb2.FieldDescriptorProto
_TYPES = {
    _F.TYPE_INT64: "int64",
    _F.TYPE_DOUBLE: "double",
    _F.TYPE_STRING: "string",
    _F.TYPE_BYTES: "bytes",
    _F.TYPE_BOOL: "bool",
}


def render(file: descriptor_pb2.FileDescriptorProto) -> str:
    """The .proto source of ``file``."""
    lines = [
        f"// {file.name}: derived by kit-grpc from the service's method signatures.",
        'syntax = "proto3";',
        "",
        f"package {file.package};",
        "",
    ]
    for enum in file.enum_type:
        lines += _enum(enum, "")
        lines.append("")
    for message in file.message_type:
        lines += _message(message, "", file.package)
        lines.append("")
    for service in file.service:
        lines.append(f"service {service.name} {{")
        for m in service.method:
            lines.append(
                f"  rpc {m.name}({_relative(m.input_type, file.package)}) "
                f"returns ({'stream ' if m.server_streaming else ''}"
                f"{_relative(m.output_type, file.package)});"
            )
        lines.append("}")
    return "\n".join(lines) + "\n"


def _relative(type_name: str, package: str) -> str:
    return type_name.removeprefix(f".{package}.")


def _enum(enum: descriptor_pb2.EnumDescriptorProto, indent: str) -> list[str]:
    lines = [f"{indent}enum {enum.name} {{"]
    lines += [f"{indent}  {v.name} = {v.number};" for v in enum.value]
    return [*lines, f"{indent}}}"]


def _message(message: descriptor_pb2.DescriptorProto, indent: str, package: str) -> list[str]:
    lines = [f"{indent}message {message.name} {{"]
    entries = {m.name: m for m in message.nested_type if m.options.map_entry}
    for nested in message.nested_type:
        if not nested.options.map_entry:
            lines += _message(nested, indent + "  ", package)
    for f in message.field:
        lines.append(f"{indent}  {_field(f, entries, package)} {f.name} = {f.number};")
    return [*lines, f"{indent}}}"]


def _field(
    f: descriptor_pb2.FieldDescriptorProto,
    entries: dict[str, descriptor_pb2.DescriptorProto],
    package: str,
) -> str:
    entry = entries.get(f.type_name.rsplit(".", 1)[-1]) if f.type_name else None
    if entry is not None and f.label == _F.LABEL_REPEATED:
        key, value = entry.field
        return f"map<{_type(key, package)}, {_type(value, package)}>"
    kind = _type(f, package)
    if f.label == _F.LABEL_REPEATED:
        return f"repeated {kind}"
    if f.proto3_optional:
        return f"optional {kind}"
    return kind


def _type(f: descriptor_pb2.FieldDescriptorProto, package: str) -> str:
    if f.type in _TYPES:
        return _TYPES[f.type]
    return _relative(f.type_name, package)
