"""Registrar: announces this instance to a discovery backend, and withdraws it.

Registering can fail in two ways. A backend that cannot be reached (down, restarting,
a partition) may answer later: ``register_with_backoff`` keeps trying, with jittered
backoff, logging each failure. A backend that refuses who we are or what we asked
(bad credentials, no permission, a malformed instance) will refuse again: backends
raise those as kit's caller-fault errors (``Unauthenticated``, ``PermissionDenied``,
``InvalidArgument``), which ``is_final`` recognises and no retry hides.

A ``register()`` that fails leaves nothing behind: ``BaseRegistrar`` releases what the
attempt opened (connections, sessions and their threads, keep-alive tasks) unless an
earlier registration is still being kept alive.
"""

from __future__ import annotations

import abc
import asyncio
from types import TracebackType
from typing import Any, Protocol, TypeVar, runtime_checkable

from kitcore.backoff import Backoff
from kitcore.errors import is_caller_fault

R = TypeVar("R", bound="BaseRegistrar")


@runtime_checkable
class Registrar(Protocol):
    """Registers and deregisters one instance of a service."""

    async def register(self) -> None:
        """Make the instance visible to the service's Instancers."""
        ...

    async def deregister(self) -> None:
        """Withdraw the instance."""
        ...

    async def close(self) -> None:
        """Deregister if registered and release the backend's clients; idempotent."""
        ...


class BaseRegistrar(abc.ABC):
    """A Registrar that tracks whether it is registered; backends implement the two hooks.

    Subclasses implement ``_register()`` and ``_deregister()`` (and may override
    ``_close()`` to release clients). ``deregister()`` only calls the hook while
    registered, so it is harmless twice; ``async with registrar:`` registers on enter
    and closes on exit.
    """

    def __init__(self) -> None:
        self._registered = False
        self._closed = False

    @property
    def registered(self) -> bool:
        """True between a successful ``register()`` and the next ``deregister()``."""
        return self._registered

    @abc.abstractmethod
    async def _register(self) -> None:
        """Register with the backend (or refresh the registration)."""

    @abc.abstractmethod
    async def _deregister(self) -> None:
        """Deregister from the backend."""

    async def _close(self) -> None:
        """Release the backend's clients: by ``close()`` after deregistering, and after a
        first ``register()`` that failed; the next ``register()`` opens them again."""
        return None  # optional hook: most backends have nothing to release

    async def register(self) -> None:
        """Register the instance; raise RuntimeError after ``close()``.

        When it fails and no earlier registration is kept alive, what the attempt opened
        is released before the error is raised: a failed start is not half a start.
        """
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")
        try:
            await self._register()
        except BaseException:
            if not self._registered:
                await self._close()
            raise
        self._registered = True

    async def deregister(self) -> None:
        """Deregister the instance if registered; otherwise do nothing."""
        if not self._registered:
            return
        await self._deregister()
        self._registered = False

    async def close(self) -> None:
        """Deregister if registered and release the backend; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.deregister()
        finally:
            await self._close()

    async def __aenter__(self: R) -> R:
        await self.register()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def is_final(error: BaseException) -> bool:
    """True when registering again cannot help: the backend refused our identity or request."""
    return is_caller_fault(error)


REGISTER_BACKOFF = Backoff(base=0.2, cap=5.0)
"""``register_with_backoff``'s default pacing: 0.2 s doubling up to 5 s, jittered."""


async def register_with_backoff(
    registrar: Registrar, *, backoff: Backoff = REGISTER_BACKOFF, logger: Any = None
) -> None:
    """Register, retrying failures with ``backoff`` until it succeeds; raise a final error.

    Each failure is logged to ``logger`` (any object with ``log(**kv)``) with the error
    and the pause before the next try. An error ``is_final`` says retrying cannot fix
    (bad credentials, no permission) is raised at once, for the caller to report and exit.
    """
    attempt = 0
    while True:
        try:
            await registrar.register()
            return
        except Exception as exc:
            if is_final(exc):
                raise
            pause = backoff.delay(attempt)
            if logger is not None:
                logger.log(
                    level="warn",
                    msg="registration failed, retrying",
                    err=exc,
                    retry_in=f"{pause:.2f}s",
                )
        await asyncio.sleep(pause)
        attempt += 1
