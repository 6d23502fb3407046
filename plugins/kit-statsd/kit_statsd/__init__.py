"""kit-statsd: kit metrics sent to StatsD or DogStatsD over UDP.

``StatsdProvider`` (labels folded into dotted names) and ``DogStatsdProvider`` (labels
as tags) are ``kitcore.metrics.Provider`` implementations writing the line protocol
themselves: counters, gauges and histograms or timings, sample rates, a name prefix,
and lines buffered into datagrams of a safe size, flushed on an interval and at close.
A daemon that is not running costs a dropped datagram, never an exception or a stall.
"""

from __future__ import annotations

from kit_statsd.metrics import DogStatsdGauge, StatsdCounter, StatsdGauge, StatsdHistogram
from kit_statsd.provider import BaseStatsdProvider, DogStatsdProvider, StatsdProvider
from kit_statsd.sender import SAFE_DATAGRAM, Sender, SenderStats

__all__ = [
    "SAFE_DATAGRAM",
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
