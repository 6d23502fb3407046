"""Requests refused before the service ran (a body that does not decode): logged and counted.

The logging and instrumenting middlewares wrap the service, so a request kit-http
refuses while decoding (400) never reaches them. kit-http's ``rejected`` option sees
each of those with the route's name; this one logs it as the logging middleware would
log a failed call, and counts it as a failed call in ``request_count``.
"""

from __future__ import annotations

from kit_http import Request
from kit_http.options import Rejected

from kitcore.errors import KitError
from kitcore.log import Logger
from kitcore.metrics import Counter


def rejections(logger: Logger, request_count: Counter | None = None) -> Rejected:
    """The ``rejected`` hook: one log line per refused request, and ``error="true"`` counted."""

    def rejected(name: str, request: Request, error: BaseException) -> None:
        status = error.http_status if isinstance(error, KitError) else 500
        code = error.code if isinstance(error, KitError) else "internal"
        logger.log(method=name, rejected=True, status=status, code=code, err=error)
        if request_count is not None:
            request_count.with_labels(method=name, error="true").add(1)

    return rejected
