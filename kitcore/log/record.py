"""What a Logger hands to its Writer, and the helpers writers share to never raise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Writer(Protocol):
    """Formats one record as one line and writes it; safe to call from many threads."""

    def write(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` (keys in the order to write them) as one line."""
        ...


def safe_repr(value: Any) -> str:
    """Return ``repr(value)``, or a placeholder when that raises."""
    try:
        return repr(value)
    except Exception as exc:
        return f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"


def safe_str(value: Any) -> str:
    """Return ``str(value)``, falling back to :func:`safe_repr` when that raises."""
    try:
        return str(value)
    except Exception:
        return safe_repr(value)


def error_text(error: BaseException) -> str:
    """An error as a log value: kit's typed errors by their message, others as
    ``Type: message`` (or ``Type`` when the message is empty), so that no logged error
    is blank: kazoo's AuthFailedError, asyncio's TimeoutError have no message."""
    from kitcore.errors import KitError

    text = safe_str(error)
    if isinstance(error, KitError) and text:
        return text
    name = type(error).__name__
    return f"{name}: {text}" if text else name
