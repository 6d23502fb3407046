"""StatsdProvider and DogStatsdProvider: kit's metrics Provider over UDP.

Both write the StatsD line format through one buffered :class:`Sender`. Plain StatsD
has no labels, so label values are folded into the name
(``svc.requests.uppercase.none``); DogStatsD sends them as tags
(``svc.requests|#endpoint:uppercase,error:none``). Counters and histograms may be
sampled: only about ``rate`` of the events are sent, each marked ``|@rate`` so the
daemon scales them back up.
"""

from __future__ import annotations

import random
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from kit_statsd import wire
from kit_statsd.metrics import (
    DogStatsdGauge,
    Family,
    StatsdCounter,
    StatsdGauge,
    StatsdHistogram,
)
from kit_statsd.sender import Sender, SenderStats
from kitcore.metrics import Counter, Gauge, Histogram, Metric, MetricRegistry

_P = TypeVar("_P", bound="BaseStatsdProvider")
_M = TypeVar("_M", bound=Metric)

DEFAULT_PORT = 8125
"""The StatsD and DogStatsD port."""


class BaseStatsdProvider:
    """What the StatsD and DogStatsD providers share; use one of the two subclasses."""

    scheme: ClassVar[str] = ""
    fold_labels: ClassVar[bool] = True
    default_histogram_type: ClassVar[str] = wire.TIMING

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        prefix: str = "",
        sample_rate: float = 1.0,
        histogram_type: str | None = None,
        socket_path: str | None = None,
        max_datagram: int | None = None,
        flush_interval: float | None = 1.0,
        seed: int | None = None,
    ) -> None:
        if not 0.0 < sample_rate <= 1.0:
            raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate!r}")
        histogram_type = histogram_type or self.default_histogram_type
        if histogram_type not in wire.HISTOGRAM_TYPES:
            raise ValueError(
                f"histogram_type must be one of {wire.HISTOGRAM_TYPES}, got {histogram_type!r}"
            )
        self.prefix = prefix
        self.sample_rate = sample_rate
        self.histogram_type = histogram_type
        self.sender = Sender(
            host,
            port,
            socket_path=socket_path,
            max_datagram=max_datagram,
            flush_interval=flush_interval,
        )
        self._random = random.Random(seed).random
        self._metrics = MetricRegistry()

    @classmethod
    def from_url(cls: type[_P], url: str, **options: Any) -> _P:
        """Open ``<scheme>://host:port?prefix=svc&sample_rate=0.5&...``.

        ``<scheme>:///path/to/socket`` (no host) sends to that Unix datagram socket.
        Query parameters are the constructor's keyword arguments (``prefix``,
        ``sample_rate``, ``histogram_type``, ``max_datagram``, ``flush_interval``,
        ``seed``; ``tags=k:v,k2:v2`` for DogStatsD); ``options`` override them.
        Host and port default to 127.0.0.1:8125.
        """
        parts = urllib.parse.urlsplit(url)
        socket_path = parts.path if parts.path not in ("", "/") else None
        if parts.scheme != cls.scheme or (socket_path and parts.netloc):
            raise ValueError(
                f"not a {cls.scheme} URL: {url!r}; use '{cls.scheme}://host:port' "
                f"or '{cls.scheme}:///path/to/socket'"
            )
        query: dict[str, Any] = dict(urllib.parse.parse_qsl(parts.query))
        for key, convert in cls._url_parameters().items():
            if key in query:
                try:
                    query[key] = convert(query[key])
                except ValueError as exc:
                    raise ValueError(f"bad {key} in {url!r}: {exc}") from exc
        unknown = set(query) - set(cls._url_parameters())
        if unknown:
            raise ValueError(f"unknown {cls.scheme} URL parameter(s) {sorted(unknown)} in {url!r}")
        if socket_path:
            query["socket_path"] = socket_path
        query.update(options)
        return cls(parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORT, **query)

    @classmethod
    def _url_parameters(cls) -> dict[str, Any]:
        return {
            "prefix": str,
            "sample_rate": float,
            "histogram_type": str,
            "max_datagram": int,
            "flush_interval": float,
            "seed": int,
        }

    # -- Provider ---------------------------------------------------------------------

    def counter(
        self,
        name: str,
        help: str = "",
        label_names: Sequence[str] = (),
        *,
        sample_rate: float | None = None,
    ) -> Counter:
        """Return the counter ``name`` (``|c``), sampled at ``sample_rate`` or the provider's."""
        rate = self.sample_rate if sample_rate is None else sample_rate
        return self._get(
            StatsdCounter,
            name,
            label_names,
            lambda names: StatsdCounter(name, help, self._family(name, wire.COUNTER, names, rate)),
        )

    def gauge(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Gauge:
        """Return the gauge ``name`` (``|g``; never sampled)."""
        gauge_type: type[StatsdGauge | DogStatsdGauge]
        gauge_type = StatsdGauge if self.fold_labels else DogStatsdGauge
        return self._get(
            gauge_type,
            name,
            label_names,
            lambda names: gauge_type(name, help, self._family(name, wire.GAUGE, names, 1.0)),
        )

    def histogram(
        self,
        name: str,
        help: str = "",
        label_names: Sequence[str] = (),
        buckets: Sequence[float] | None = None,
        *,
        sample_rate: float | None = None,
    ) -> Histogram:
        """Return the histogram ``name``, values sent as given (``buckets`` are not used).

        The line type is the provider's ``histogram_type``: ``ms`` (StatsD timing), ``h``
        (DogStatsD histogram) or ``d`` (DogStatsD distribution).
        """
        rate = self.sample_rate if sample_rate is None else sample_rate
        kind = self.histogram_type
        return self._get(
            StatsdHistogram,
            name,
            label_names,
            lambda names: StatsdHistogram(name, help, self._family(name, kind, names, rate)),
        )

    def timing(
        self,
        name: str,
        help: str = "",
        label_names: Sequence[str] = (),
        *,
        sample_rate: float | None = None,
    ) -> Histogram:
        """Return a histogram observing seconds and sending milliseconds as ``|ms`` timings."""
        rate = self.sample_rate if sample_rate is None else sample_rate
        return self._get(
            StatsdHistogram,
            name,
            label_names,
            lambda names: StatsdHistogram(
                name, help, self._family(name, wire.TIMING, names, rate, scale=1000.0)
            ),
        )

    def flush(self) -> None:
        """Send every buffered line now."""
        self.sender.flush()

    def close(self) -> None:
        """Send what is buffered, stop the flush thread and close the socket."""
        self.sender.close()

    def stats(self) -> SenderStats:
        """Return the sender's counts: lines and datagrams sent, lines dropped."""
        return self.sender.stats()

    def __enter__(self: _P) -> _P:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------

    def _constant_tags(self) -> str:
        return ""

    def _family(
        self, name: str, kind: str, names: tuple[str, ...], rate: float, scale: float = 1.0
    ) -> Family:
        return Family(
            wire_name=wire.prefixed(self.prefix, name),
            kind=kind,
            label_names=names,
            rate=rate,
            send=self.sender.send,
            random=self._random,
            fold_labels=self.fold_labels,
            constant_tags=self._constant_tags(),
            scale=scale,
        )

    def _get(self, kind: type[_M], name: str, label_names: Sequence[str], create: Any) -> _M:
        metric: _M = self._metrics.get_or_create(kind, name, label_names, create)
        return metric


class StatsdProvider(BaseStatsdProvider):
    """Plain StatsD: label values folded into dotted names, histograms as ``|ms`` timings.

    ``prefix`` starts every name (``svc`` -> ``svc.requests``); ``sample_rate`` is the
    default rate of counters and histograms; lines are buffered into datagrams of at
    most ``max_datagram`` bytes, sent every ``flush_interval`` seconds and at close, to
    ``host:port`` over UDP or to the Unix datagram socket ``socket_path``. ``seed``
    makes sampling reproducible.
    """

    scheme = "statsd"


class DogStatsdProvider(BaseStatsdProvider):
    """DogStatsD: labels as tags, ``tags`` added to every line, histograms as ``|h``.

    Takes the StatsdProvider's options plus ``tags``, a mapping (or ``k:v,k2:v2``
    string) of constant tags such as ``{"env": "prod"}``.
    """

    scheme = "dogstatsd"
    fold_labels = False
    default_histogram_type = wire.HISTOGRAM

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        tags: Mapping[str, str] | str | None = None,
        **options: Any,
    ) -> None:
        # Before the sender (and its thread) exists: a bad tag must not leave one behind.
        self.tags: dict[str, str] = _parse_tags(tags) if isinstance(tags, str) else dict(tags or {})
        self._tag_text = wire.tags(self.tags)
        super().__init__(host, port, **options)

    @classmethod
    def _url_parameters(cls) -> dict[str, Any]:
        return {**super()._url_parameters(), "tags": _parse_tags}

    def _constant_tags(self) -> str:
        return self._tag_text


def _parse_tags(text: str) -> dict[str, str]:
    tags = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition(":")
        if not key or not sep:
            raise ValueError(f"tags are 'key:value' pairs separated by commas, got {item!r}")
        tags[key] = value
    return tags
