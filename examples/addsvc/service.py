"""The add service: Sum and Concat with Go kit's rules and error texts, and its middlewares."""

from __future__ import annotations

from typing import Protocol

from kitcore.errors import InvalidArgument
from kitcore.log import Logger
from kitcore.metrics import Counter

INT_MAX = (1 << 31) - 1
"""Go kit's ``intMax``: sums outside int32 overflow."""
INT_MIN = -(INT_MAX + 1)
MAX_LEN = 10
"""Longest Concat result, in bytes (Go's ``len`` of a string)."""


class TwoZeroes(InvalidArgument):
    """Sum(0, 0): Go kit's ErrTwoZeroes."""

    def __init__(self) -> None:
        super().__init__("can't sum two zeroes")


class IntOverflow(InvalidArgument):
    """The sum does not fit in an int32: Go kit's ErrIntOverflow."""

    def __init__(self) -> None:
        super().__init__("integer overflow")


class MaxSizeExceeded(InvalidArgument):
    """The Concat result would be over ``MAX_LEN`` bytes: Go kit's ErrMaxSizeExceeded."""

    def __init__(self) -> None:
        super().__init__("result exceeds maximum size")


class Service(Protocol):
    """What every layer of addsvc offers: the service, its middlewares, the client sets."""

    async def sum(self, a: int, b: int) -> int:
        """Add two integers."""
        ...

    async def concat(self, a: str, b: str) -> str:
        """Concatenate two strings."""
        ...


class BasicService:
    """The business logic, nothing else."""

    async def sum(self, a: int, b: int) -> int:
        """``a + b``; two zeroes or a result outside int32 are refused."""
        if a == 0 and b == 0:
            raise TwoZeroes
        if (b > 0 and a > INT_MAX - b) or (b < 0 and a < INT_MIN - b):
            raise IntOverflow
        return a + b

    async def concat(self, a: str, b: str) -> str:
        """``a + b``; a result over ten bytes is refused."""
        if len(a.encode()) + len(b.encode()) > MAX_LEN:
            raise MaxSizeExceeded
        return a + b


class LoggingMiddleware:
    """Logs every call with its arguments, result and error: ``method=Sum a=1 b=2 v=3 err=null``."""

    def __init__(self, logger: Logger, next_: Service) -> None:
        self.logger = logger
        self.next = next_

    async def sum(self, a: int, b: int) -> int:
        """Sum, logged."""
        v, err = 0, None
        try:
            v = await self.next.sum(a, b)
            return v
        except Exception as exc:
            err = exc
            raise
        finally:
            self.logger.log(method="Sum", a=a, b=b, v=v, err=err)

    async def concat(self, a: str, b: str) -> str:
        """Concat, logged."""
        v, err = "", None
        try:
            v = await self.next.concat(a, b)
            return v
        except Exception as exc:
            err = exc
            raise
        finally:
            self.logger.log(method="Concat", a=a, b=b, v=v, err=err)


class InstrumentingMiddleware:
    """Counts the integers summed and the characters concatenated.

    Go kit adds each sum to a Prometheus counter, which panics on a negative sum and
    kills addsvc; a counter cannot go down, so here it adds the sum's magnitude.
    """

    def __init__(self, ints: Counter, chars: Counter, next_: Service) -> None:
        self.ints = ints
        self.chars = chars
        self.next = next_

    async def sum(self, a: int, b: int) -> int:
        """Sum, counted."""
        v = 0
        try:
            v = await self.next.sum(a, b)
            return v
        finally:
            self.ints.add(abs(v))

    async def concat(self, a: str, b: str) -> str:
        """Concat, counted."""
        v = ""
        try:
            v = await self.next.concat(a, b)
            return v
        finally:
            self.chars.add(len(v.encode()))


def new_service(logger: Logger, ints: Counter, chars: Counter) -> Service:
    """The service with its middlewares, as Go kit's ``addservice.New``."""
    svc: Service = BasicService()
    svc = LoggingMiddleware(logger, svc)
    return InstrumentingMiddleware(ints, chars, svc)
