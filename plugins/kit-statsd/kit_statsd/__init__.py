"""kit-statsd: kit metrics sent to StatsD or DogStatsD over UDP or a Unix socket.

``StatsdProvider`` (labels folded into dotted names) and ``DogStatsdProvider`` (labels
as tags) are ``kitcore.metrics.Provider`` implementations writing the line protocol
themselves: counters, gauges and histograms or timings, sample rates, a name prefix,
and lines buffered into datagrams of a safe size, flushed on an interval and at close.
A daemon that is not running costs a dropped datagram, never an exception or a stall.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore.lazy import lazy_exports

if TYPE_CHECKING:
    from kit_statsd.metrics import DogStatsdGauge, StatsdCounter, StatsdGauge, StatsdHistogram
    from kit_statsd.provider import BaseStatsdProvider, DogStatsdProvider, StatsdProvider
    from kit_statsd.sender import SAFE_DATAGRAM, UNIX_DATAGRAM, Sender, SenderStats

__all__ = [
    "SAFE_DATAGRAM",
    "UNIX_DATAGRAM",
    "BaseStatsdProvider",
    "DogStatsdGauge",
    "DogStatsdProvider",
    "Sender",
    "SenderStats",
    "StatsdCounter",
    "StatsdGauge",
    "StatsdHistogram",
    "StatsdProvider",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DogStatsdGauge": "kit_statsd.metrics",
        "StatsdCounter": "kit_statsd.metrics",
        "StatsdGauge": "kit_statsd.metrics",
        "StatsdHistogram": "kit_statsd.metrics",
        "BaseStatsdProvider": "kit_statsd.provider",
        "DogStatsdProvider": "kit_statsd.provider",
        "StatsdProvider": "kit_statsd.provider",
        "SAFE_DATAGRAM": "kit_statsd.sender",
        "UNIX_DATAGRAM": "kit_statsd.sender",
        "Sender": "kit_statsd.sender",
        "SenderStats": "kit_statsd.sender",
    },
)
