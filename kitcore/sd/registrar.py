"""Registrar: announces this instance to a discovery backend, and withdraws it."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

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
        """Release the backend's clients; called once by ``close()``, after deregistering."""
        return None  # optional hook: most backends have nothing to release

    async def register(self) -> None:
        """Register the instance; raise RuntimeError after ``close()``."""
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")
        await self._register()
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
