"""The kit plugin module: registers the ``statsd`` and ``dogstatsd`` metrics providers."""

from __future__ import annotations

from typing import Any

from kitcore import hookimpl
from kitcore.plugins.hookspecs import Register


def statsd_provider(url: str, **options: Any) -> Any:
    """Open ``statsd://host:port?prefix=...``: a StatsdProvider."""
    from kit_statsd.provider import StatsdProvider

    return StatsdProvider.from_url(url, **options)


def dogstatsd_provider(url: str, **options: Any) -> Any:
    """Open ``dogstatsd://host:port?prefix=...&tags=k:v``: a DogStatsdProvider."""
    from kit_statsd.provider import DogStatsdProvider

    return DogStatsdProvider.from_url(url, **options)


@hookimpl
def kit_register_metrics(register: Register) -> None:
    """Register the ``statsd`` and ``dogstatsd`` metrics providers."""
    register("statsd", statsd_provider, description="StatsD over UDP, labels folded into names")
    register("dogstatsd", dogstatsd_provider, description="DogStatsD over UDP, labels as tags")
