"""``kit describe`` and ``kit call``: a service's shape, and calling it, from a shell.

As grpcurl does for gRPC, but through kit's own client: ``kit call`` builds the typed
client of ``--service module:attr`` with ``kitcore.connect``, so any transport and any
discovery URL work, arguments are validated against the method's request type before
anything is sent, and a typed error comes back as its JSON wire form.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click
import msgspec

from kitcore.errors import InvalidArgument, KitError
from kitcore.plugins import BackendNotFound
from kitcore.service import Method, ServiceSpec, describe
from kitcore.serving import load_target


def service_class(spec: str) -> type:
    """The service class ``spec`` names (an instance stands for its class)."""
    obj = load_target(spec)
    cls = obj if isinstance(obj, type) else type(obj)
    if not describe(cls).methods:
        raise click.BadParameter(f"{spec!r} has no public async methods", param_hint="TARGET")
    return cls


def _type_name(type_: Any) -> str:
    if type_ is None or type_ is type(None):
        return "None"
    return getattr(type_, "__name__", None) or str(type_).replace("typing.", "")


def describe_spec(spec: ServiceSpec) -> dict[str, Any]:
    """A service's methods as plain data: parameters, result type, options, description."""
    methods = {}
    for name, m in spec.methods.items():
        fields = msgspec.structs.fields(m.request_type)
        methods[name] = {
            "params": {
                f.name: {"type": _type_name(f.type), "required": f.required} for f in fields
            },
            "returns": (
                f"AsyncIterator[{_type_name(m.response_type)}]"
                if m.streaming
                else _type_name(m.response_type)
            ),
            "options": dict(m.options),
            "description": m.description,
        }
    return {"service": spec.name, "description": spec.description, "methods": methods}


@click.command("describe")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, with the JSON Schemas.")
def describe_command(target: str, as_json: bool) -> None:
    """Show the methods and types of the service TARGET (module:attr)."""
    spec = describe(service_class(target))
    data = describe_spec(spec)
    if as_json:
        request_types = [m.request_type for m in spec.methods.values()]
        schemas, components = msgspec.json.schema_components(request_types)
        for m, schema in zip(data["methods"].values(), schemas, strict=True):
            m["schema"] = schema
        data["components"] = components
        click.echo(json.dumps(data, indent=2, default=str))
        return
    click.echo(f"{data['service']}: {data['description']}".rstrip(": "))
    for name, m in data["methods"].items():
        params = ", ".join(
            f"{p}: {info['type']}" + ("" if info["required"] else " = ...")
            for p, info in m["params"].items()
        )
        options = "".join(f"  [{k}={v}]" for k, v in m["options"].items())
        click.echo(f"  {name}({params}) -> {m['returns']}{options}")
        if m["description"]:
            click.echo(f"      {m['description'].splitlines()[0]}")


def _request(method: Method, arguments: str) -> msgspec.Struct:
    try:
        return msgspec.json.decode(arguments or "{}", type=method.request_type)
    except msgspec.MsgspecError as exc:
        raise click.BadParameter(f"{method.name}: {exc}", param_hint="ARGUMENTS") from None


@click.command("call")
@click.argument("target")
@click.argument("method")
@click.argument("arguments", required=False, default="")
@click.option("--service", "service", required=True, help="The service class, module:attr.")
@click.option("--transport", default=None, help="Transport for a discovery TARGET (http, ...).")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds for the whole call.")
def call_command(
    target: str, method: str, arguments: str, service: str, transport: str | None, timeout: float
) -> None:
    """Call METHOD of the service at TARGET with ARGUMENTS (a JSON object); print the result.

    A streaming METHOD prints each item as a line of JSON as it arrives.

    TARGET is a transport URL (http://host:port) or a discovery URL (etcd://...,
    static://h1:p1,h2:p2 with --transport). A typed error is printed as its JSON wire
    form on stderr, and the exit status is 1.
    """
    from kitcore.client import connect

    cls = service_class(service)
    spec = describe(cls)
    chosen = spec.methods.get(method) or next(
        (m for m in spec.methods.values() if m.attr == method), None
    )
    if chosen is None:
        raise click.BadParameter(
            f"{spec.name} has no method {method!r} (it has {', '.join(spec.methods)})",
            param_hint="METHOD",
        )
    request = _request(chosen, arguments)

    async def run() -> Any:
        client: Any
        async with connect(cls, target, transport=transport, timeout=timeout) as client:
            call = getattr(client, chosen.attr)(**msgspec.structs.asdict(request))
            if not chosen.streaming:
                return await call
            async with call as items:  # a stream: one JSON line per item, as they come
                async for item in items:
                    click.echo(msgspec.json.encode(item).decode())
            return _STREAMED

    try:
        result = asyncio.run(run())
    except KitError as exc:
        click.echo(json.dumps(exc.to_wire()), err=True)
        sys.exit(1)
    except (ValueError, BackendNotFound) as exc:  # a bad TARGET: no such scheme or backend
        click.echo(json.dumps(InvalidArgument(str(exc)).to_wire()), err=True)
        sys.exit(1)
    if result is not _STREAMED:
        click.echo(msgspec.json.encode(result).decode())


_STREAMED = object()
