"""The logging middleware: one line per call with its input, output, error and duration."""

from __future__ import annotations

import time

from examples.stringsvc1.transport import Service
from kitcore.log import Logger, format_duration


class LoggingMiddleware:
    """A StringService that logs every call to the one it wraps."""

    def __init__(self, logger: Logger, next_: Service) -> None:
        self.logger = logger
        self.next = next_

    async def uppercase(self, s: str) -> str:
        """Upper-case ``s``, logging the call."""
        begin = time.perf_counter()
        output, err = "", None
        try:
            output = await self.next.uppercase(s)
            return output
        except Exception as exc:
            err = exc
            raise
        finally:
            took = format_duration(time.perf_counter() - begin)
            self.logger.log(method="uppercase", input=s, output=output, err=err, took=took)

    async def count(self, s: str) -> int:
        """Count the characters of ``s``, logging the call."""
        begin = time.perf_counter()
        n = 0
        try:
            n = await self.next.count(s)
            return n
        finally:
            took = format_duration(time.perf_counter() - begin)
            self.logger.log(method="count", input=s, n=n, took=took)
