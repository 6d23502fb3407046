"""Event: one state of a service's instance set, as a discovery backend reports it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def _same_error(a: BaseException | None, b: BaseException | None) -> bool:
    # A reconnect loop raises a fresh exception object each time; two errors of the
    # same type and message are the same news, so subscribers are not woken for them.
    if a is None or b is None:
        return a is b
    return a is b or (type(a) is type(b) and a.args == b.args)


@dataclass(frozen=True, eq=False)
class Event:
    """The instances of a service (sorted, unique) and the discovery error, if any.

    On an error event ``instances`` holds the last good set: discovery failing does
    not mean the instances are gone. Events compare equal when their instances are
    equal and their errors have the same type and arguments.
    """

    instances: tuple[str, ...] = ()
    error: BaseException | None = None

    def __init__(self, instances: Iterable[str] = (), error: BaseException | None = None) -> None:
        object.__setattr__(self, "instances", tuple(sorted(set(instances))))
        object.__setattr__(self, "error", error)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self.instances == other.instances and _same_error(self.error, other.error)

    def __hash__(self) -> int:
        return hash((self.instances, None if self.error is None else type(self.error)))
