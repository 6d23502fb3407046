"""Log levels: the four names Go kit uses, ordered so that a filter is one comparison."""

from __future__ import annotations

DEBUG = 10
"""Detail for developers; dropped by any filter above debug."""
INFO = 20
"""Normal operation worth recording."""
WARN = 30
"""Something unexpected that the service survived."""
ERROR = 40
"""A failure someone should look at."""

NAMES: dict[int, str] = {DEBUG: "debug", INFO: "info", WARN: "warn", ERROR: "error"}
"""The name written as ``level=<name>`` for each level."""

_BY_NAME = {"debug": DEBUG, "info": INFO, "warn": WARN, "warning": WARN, "error": ERROR}


def parse_level(name: str) -> int:
    """Return the level called ``name`` (debug, info, warn or warning, error; any case)."""
    try:
        return _BY_NAME[name.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {name!r}: use debug, info, warn or error") from None
