"""An AsyncAPI 3.0 document of a service's event handlers, as FastStream publishes one.

Each ``@method(event="subject")`` method is a channel (its subject or queue) with a
``receive`` operation whose message payload is the method's request Struct as JSON
Schema (msgspec's, as kit-http's OpenAPI uses). ``servers`` (name -> broker URL) fill
the document's servers. ``kit asyncapi module:attr`` prints it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import msgspec

from kitcore.messaging.events import event_subjects
from kitcore.service import describe

_REF = "#/components/schemas/{name}"


def _server(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    entry: dict[str, Any] = {
        "host": f"{host}:{parts.port}" if parts.port else host,
        "protocol": parts.scheme or "nats",
    }
    return entry


def document(
    service: object, servers: Mapping[str, str] | None = None, version: str = "1.0.0"
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``service``'s event handlers."""
    spec = describe(service)
    subjects = event_subjects(service)
    methods = [spec.methods[name] for name in subjects]
    schemas, components = msgspec.json.schema_components(
        [m.request_type for m in methods], ref_template=_REF
    )
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for m, schema in zip(methods, schemas, strict=True):
        message = f"{m.name}Message"
        messages[message] = {
            "name": message,
            "contentType": "application/json",
            "payload": schema,
            "summary": m.description.splitlines()[0] if m.description else "",
        }
        channels[m.name] = {
            "address": subjects[m.name],
            "messages": {message: {"$ref": f"#/components/messages/{message}"}},
        }
        operations[m.name] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{m.name}"},
            "summary": m.description.splitlines()[0] if m.description else "",
        }
    doc: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": {"title": spec.name, "version": version, "description": spec.description},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": components},
    }
    if servers:
        doc["servers"] = {name: _server(url) for name, url in servers.items()}
    return doc
