"""EndpointMetrics: middleware recording request count, latency and in-flight per endpoint.

The RED metrics (rate, errors, duration) every service wants, labelled by endpoint name
and error kind (``kitcore.errors.kind``: ``"none"``, a KitError code, or ``"internal"``).
"""

from __future__ import annotations

import time
from typing import Any

from kitcore.endpoint import Endpoint, Middleware
from kitcore.errors import kind
from kitcore.metrics.metric import Record, unchecked_add, unchecked_observe
from kitcore.metrics.provider import Provider

DURATION_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Request duration histogram bounds in seconds: 1 ms to 10 s."""


class EndpointMetrics:
    """The three request metrics of a service, and the middleware that records them.

    Creates ``{namespace}_requests_total`` (counter; labels endpoint, error),
    ``{namespace}_request_duration_seconds`` (histogram; labels endpoint, error) and
    ``{namespace}_requests_in_flight`` (gauge; label endpoint) once, in ``provider``.
    """

    def __init__(self, provider: Provider, namespace: str = "kit") -> None:
        self.requests = provider.counter(
            f"{namespace}_requests_total",
            "Requests handled, by endpoint and error kind.",
            ("endpoint", "error"),
        )
        self.duration = provider.histogram(
            f"{namespace}_request_duration_seconds",
            "Request duration in seconds, by endpoint and error kind.",
            ("endpoint", "error"),
            buckets=DURATION_BUCKETS,
        )
        self.in_flight = provider.gauge(
            f"{namespace}_requests_in_flight",
            "Requests being handled now, by endpoint.",
            ("endpoint",),
        )

    def middleware(self, endpoint_name: str) -> Middleware:
        """Return a Middleware recording every call as endpoint ``endpoint_name``.

        Exceptions are counted under their kind and re-raised unchanged; cancellation
        (a BaseException) only brings the in-flight gauge back down.
        """
        # Bound once, and recorded through the backends' hooks: the values are valid by
        # construction (+1 and -1 in flight, a count of 1, an elapsed time: never NaN),
        # so each record skips add()'s or observe()'s checks, and a call.
        in_flight = unchecked_add(self.in_flight.with_labels(endpoint=endpoint_name))
        by_kind: dict[str, tuple[Record, Record]] = {}

        def bound(error: str) -> tuple[Record, Record]:
            pair = by_kind.get(error)
            if pair is None:
                pair = (
                    unchecked_add(self.requests.with_labels(endpoint=endpoint_name, error=error)),
                    unchecked_observe(
                        self.duration.with_labels(endpoint=endpoint_name, error=error)
                    ),
                )
                by_kind[error] = pair
            return pair

        ok_count, ok_duration = bound("none")
        perf_counter = time.perf_counter

        def middleware(next_endpoint: Endpoint) -> Endpoint:
            async def instrumented(request: Any) -> Any:
                in_flight(1.0)
                start = perf_counter()
                try:
                    response = await next_endpoint(request)
                except Exception as exc:
                    elapsed = perf_counter() - start
                    count, duration = bound(kind(exc))
                    count(1.0)
                    duration(elapsed)
                    raise
                finally:
                    in_flight(-1.0)
                elapsed = perf_counter() - start
                ok_count(1.0)
                ok_duration(elapsed)
                return response

            return instrumented

        return middleware
