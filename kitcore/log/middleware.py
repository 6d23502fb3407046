"""A logging middleware: one line per endpoint call, as Go kit's examples write by hand."""

from __future__ import annotations

import time
from typing import Any

from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import kind
from kitcore.log.logger import Logger


def logging_middleware(logger: Logger, endpoint_name: str) -> Middleware:
    """Log ``method``, ``err`` (the error kind or None) and ``took`` (seconds) for every call.

    Failed calls are logged at error level, with ``msg`` holding the error's text.
    """
    bound = logger.with_(method=endpoint_name)

    def middleware(next_: Endpoint) -> Endpoint:
        async def endpoint(request: Any) -> Any:
            start = time.perf_counter()
            try:
                response = await next_(request)
            except BaseException as exc:
                bound.error(err=kind(exc), msg=str(exc), took=time.perf_counter() - start)
                raise
            bound.info(err=None, took=time.perf_counter() - start)
            return response

        return endpoint

    return middleware
