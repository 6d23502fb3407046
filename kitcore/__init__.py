"""kit: a toolkit for microservices, in the spirit of Go kit, asyncio-first.

The core holds the abstractions every plugin builds on: Endpoint and Middleware, the
typed errors, request context and deadlines, services and clients, logging, metrics,
service discovery and load balancing. Submodules load on first use so that
``import kitcore`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.endpoint import Endpoint, Middleware, chain, from_sync, nop
from kitcore.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    KitError,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kitcore.client import Call, Client, close, closing, connect
    from kitcore.plugins import hookimpl
    from kitcore.service import ServiceSpec, describe, endpoints, method

__version__ = "0.1.0"

_LAZY = {
    "hookimpl": "kitcore.plugins",
    "connect": "kitcore.client",
    "close": "kitcore.client",
    "closing": "kitcore.client",
    "Client": "kitcore.client",
    "Call": "kitcore.client",
    "describe": "kitcore.service",
    "endpoints": "kitcore.service",
    "method": "kitcore.service",
    "ServiceSpec": "kitcore.service",
}

__all__ = [
    "AlreadyExists",
    "Call",
    "Client",
    "DeadlineExceeded",
    "Endpoint",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "KitError",
    "Middleware",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "ServiceSpec",
    "Unauthenticated",
    "Unavailable",
    "chain",
    "close",
    "closing",
    "connect",
    "describe",
    "endpoints",
    "from_sync",
    "hookimpl",
    "method",
    "nop",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
