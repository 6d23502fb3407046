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
