"""ASGI 3 types, shared by every kit plugin that serves or wraps ASGI applications.

One set of aliases, written as Starlette writes them, so that a kit-http ``App`` passes
to kit-prometheus's ``with_metrics`` (or into Starlette) without a cast. Types only:
the core imports no server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeAlias

Scope: TypeAlias = MutableMapping[str, Any]
"""The connection scope: ``type``, ``path``, ``headers``, ..."""

Message: TypeAlias = MutableMapping[str, Any]
"""One event received from or sent to the server."""

Receive: TypeAlias = Callable[[], Awaitable[Message]]
"""Awaits the next event from the server."""

Send: TypeAlias = Callable[[Message], Awaitable[None]]
"""Sends one event to the server."""

ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]
"""An ASGI 3 application."""
