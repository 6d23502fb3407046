"""Factory: builds the client endpoint for one instance, and the Closer that releases it."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from kitcore.endpoint import Endpoint

Closer: TypeAlias = Callable[[], "Awaitable[None] | None"]
"""Releases what a Factory opened for one instance (connections, pools); sync or async."""

Factory: TypeAlias = Callable[[str], "tuple[Endpoint, Closer | None]"]
"""``factory(instance) -> (endpoint, closer or None)``; raises when it cannot build one."""


async def close_quietly(closer: Closer | None) -> BaseException | None:
    """Run ``closer`` (awaiting it if async); return its exception instead of raising it."""
    if closer is None:
        return None
    try:
        result = closer()
        if inspect.isawaitable(result):
            await result
    except Exception as exc:
        return exc
    return None
