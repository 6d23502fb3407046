"""OpenAPI 3.1 for an App, derived from its services' types, and a local Swagger UI page.

The request and response types of a typed service are already msgspec types, so the
document is their JSON Schema (msgspec's), laid on the routes the App serves: path and
query parameters, the JSON body, the reply (a streaming method's as
``application/x-ndjson``, each line described), and kit's error body for every other
status. ``add_openapi(app)`` serves it at ``/openapi.json`` and Swagger UI at ``/docs``,
from a bundle vendored from npm's swagger-ui-dist (``scripts/vendor-swagger-ui.sh``), so
the page works with no CDN and no network.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import msgspec

from kit_http.app import App
from kit_http.binding import Binding
from kit_http.message import Response
from kit_http.ndjson import CONTENT_TYPE
from kit_http.operational import serve_get
from kit_http.routing import BODYLESS, RouteSpec

_ERROR = {
    "type": "object",
    "description": "A kit error: its code (kitcore.errors), a message and details.",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "details": {"type": "object"},
    },
}
_REF = "#/components/schemas/{name}"
_STATIC = ("swagger-ui-bundle.js", "swagger-ui.css")
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "{spec}", dom_id: "#swagger-ui"}});
</script>
</body>
</html>
"""


def document(app: App, *, title: str = "kit service", version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API ``app`` serves (its ``operational`` paths aside)."""
    bindings = [b for b in app.bindings if b.route.template not in app.operational]
    explicit = [(r, t) for r, t in app.explicit if r.template not in app.operational]
    # One schema per type, in this order: each binding's body, reply and parameters, then
    # each explicit route's request type (Any when the route decodes for itself).
    types: list[Any] = []
    for b in bindings:
        types += [b.body_type, b.method.response_type, *_field_types(b)]
    types += [t if t is not None else Any for _, t in explicit]
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    by_type = iter(schemas)
    paths: dict[str, dict[str, Any]] = {}
    for b in bindings:
        body, reply = next(by_type), next(by_type)
        if b.method.streaming:
            reply = _line(reply)
        operation = _operation(b.method.name, b.method.description, reply, b.method.streaming)
        fields = {f.name: f for f in msgspec.structs.fields(b.method.request_type)}
        operation["parameters"] = [
            {
                "name": n,
                "in": "path" if n in b.route.params else "query",
                "required": n in b.route.params or fields[n].required,
                "schema": next(by_type),
            }
            for n in (*b.route.params, *b.query_fields)
        ]
        if b.has_body:
            operation["requestBody"] = _body(body, required=b.body_param is not None)
        _put(paths, b.route, operation)
    for route, _ in explicit:
        request = next(by_type)
        operation = _operation(_operation_id(route), "", {})
        operation["parameters"] = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in route.params
        ]
        if route.method not in BODYLESS:
            operation["requestBody"] = _body(request, required=True)
        _put(paths, route, operation)
    components["Error"] = _ERROR
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": components},
    }


def _field_types(b: Binding) -> list[Any]:
    fields = {f.name: f for f in msgspec.structs.fields(b.method.request_type)}
    return [fields[n].type for n in (*b.route.params, *b.query_fields)]


def _line(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "One line of the stream: an item, or the error that ended it.",
        "properties": {"result": item, "error": {"$ref": _REF.format(name="Error")}},
    }


def _operation(
    operation_id: str, summary: str, reply: dict[str, Any], streaming: bool = False
) -> dict[str, Any]:
    if streaming:
        description = "The items, one JSON object a line (kit_http.ndjson)."
        content = {CONTENT_TYPE: {"schema": reply}}
    else:
        description, content = "The result.", {"application/json": {"schema": reply}}
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "responses": {
            "200": {"description": description, "content": content},
            "default": {
                "description": "An error (kitcore.errors), with its HTTP status.",
                "content": {"application/json": {"schema": {"$ref": _REF.format(name="Error")}}},
            },
        },
    }
    if summary:
        operation["summary"] = summary.splitlines()[0]
    return operation


def _body(schema: dict[str, Any], *, required: bool) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _operation_id(route: RouteSpec) -> str:
    return f"{route.method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', route.template).strip('_')}"


def _put(paths: dict[str, dict[str, Any]], route: RouteSpec, operation: dict[str, Any]) -> None:
    paths.setdefault(route.template, {})[route.method.lower()] = operation


def add_openapi(
    app: App,
    *,
    title: str = "kit service",
    version: str = "0.1.0",
    path: str = "/openapi.json",
    docs: str | None = "/docs",
) -> App:
    """Serve ``app``'s OpenAPI document at ``path`` and Swagger UI at ``docs``; returns app.

    The document is made at the first request for it (after every route was added)
    and then kept. ``docs=None`` serves the document alone.
    """
    made: list[bytes] = []

    async def spec() -> Response:
        if not made:
            made.append(msgspec.json.encode(document(app, title=title, version=version)))
        return Response(made[0])

    serve_get(app, path, spec)
    if docs is not None:
        page = _PAGE.format(title=title, spec=path.lstrip("/")).encode()
        base = docs.rstrip("/")

        async def docs_page() -> Response:
            return Response(page, content_type="text/html; charset=utf-8")

        serve_get(app, base, docs_page)
        for name in _STATIC:
            serve_get(app, f"{base}/{name}", _static(name))
    return app


def _static(name: str) -> Any:
    kind = "text/css" if name.endswith(".css") else "text/javascript"
    body: list[bytes] = []

    async def serve() -> Response:
        if not body:
            body.append(
                resources.files("kit_http")
                .joinpath("static")
                .joinpath("swagger-ui")
                .joinpath(name)
                .read_bytes()
            )
        return Response(
            body[0],
            content_type=f"{kind}; charset=utf-8",
            headers=[("cache-control", "public, max-age=86400")],
        )

    return serve
