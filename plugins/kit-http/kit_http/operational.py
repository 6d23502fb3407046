"""Routes that serve an App itself (documentation, health) rather than its API.

They answer GET with a prepared Response, take no input and stay out of the App's
OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kit_http.app import App
from kit_http.message import Request, Response


def serve_get(app: App, path: str, reply: Callable[[], Awaitable[Response]]) -> None:
    """Answer ``GET path`` on ``app`` with ``await reply()``, outside the app's API."""

    async def endpoint(_: None) -> Response:
        return await reply()

    app.route(f"GET {path}", endpoint, decode=_nothing, encode=_as_is)
    app.operational.add(path)


def _nothing(_: Request) -> None:
    return None


def _as_is(response: Any) -> Any:
    return response
