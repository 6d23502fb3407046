"""A fake StatsD daemon for tests: a bound UDP socket that parses and aggregates lines.

``StatsdReader`` keeps every datagram it receives, parses each line and aggregates as a
StatsD daemon would (counters summed and scaled by ``1/rate``, gauges set or moved,
histogram values kept), and is the ``kitcore.testing.metrics.MetricsReader`` of this
backend::

    with StatsdReader() as reader, StatsdProvider(port=reader.port) as provider:
        await check_provider(provider, reader.for_provider(provider))

It reads label values back in the order given (folded into the name for plain StatsD,
as tags for DogStatsD) and does not escape them: use plain values in tests.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kit_statsd.sender import SenderStats
from kitcore.metrics.reservoir import quantile


@dataclass(frozen=True)
class Line:
    """One parsed StatsD line."""

    name: str
    value: str
    kind: str
    rate: float = 1.0
    tags: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, text: str) -> Line:
        """Parse ``name:value|type[|@rate][|#tags]``; ValueError if malformed."""
        name, sep, rest = text.partition(":")
        fields = rest.split("|")
        if not name or not sep or len(fields) < 2 or not fields[0] or not fields[1]:
            raise ValueError(f"malformed StatsD line {text!r}")
        rate, tags = 1.0, frozenset[str]()
        for extra in fields[2:]:
            if extra.startswith("@"):
                rate = float(extra[1:])
            elif extra.startswith("#"):
                tags = frozenset(extra[1:].split(","))
            else:
                raise ValueError(f"unknown field {extra!r} in StatsD line {text!r}")
        float(fields[0])  # the value must be a number
        return cls(name, fields[0], fields[1], rate, tags)


class _Flushable(Protocol):
    def flush(self) -> None: ...
    def stats(self) -> SenderStats: ...


class StatsdReader:
    """A UDP socket on 127.0.0.1 that receives, keeps and aggregates StatsD lines.

    ``dogstatsd`` selects how labels are read (tags, else folded into the name) and how
    gauges are (DogStatsD gauges are always absolute); ``prefix`` and ``tags`` are the
    provider's name prefix and constant tags. With ``socket_path`` it is a Unix
    datagram socket bound there instead, as the Datadog Agent's.
    """

    def __init__(
        self,
        *,
        dogstatsd: bool = False,
        prefix: str = "",
        tags: Mapping[str, str] | None = None,
        receive_buffer: int = 8 << 20,
        socket_path: str | None = None,
    ) -> None:
        self.dogstatsd = dogstatsd
        self.prefix = prefix
        self.constant_tags = frozenset(f"{k}:{v}" for k, v in (tags or {}).items())
        self.datagrams: list[bytes] = []
        self.lines: list[Line] = []
        self.socket_path = socket_path
        family = socket.AF_INET if socket_path is None else socket.AF_UNIX
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.bind(("127.0.0.1", 0) if socket_path is None else socket_path)
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1] if socket_path is None else 0
        self._source: _Flushable | None = None

    @property
    def url(self) -> str:
        """The provider URL pointing at this reader."""
        scheme = "dogstatsd" if self.dogstatsd else "statsd"
        if self.socket_path is not None:
            return f"{scheme}://{self.socket_path}"
        return f"{scheme}://127.0.0.1:{self.port}"

    def for_provider(self, provider: _Flushable) -> StatsdReader:
        """Make every read first flush ``provider`` and wait for all the lines it sent."""
        self._source = provider
        return self

    def receive(self, *, lines: int | None = None, timeout: float = 5.0) -> list[bytes]:
        """Read the datagrams waiting now; with ``lines``, wait until that many lines in all.

        Returns the datagrams read by this call. Raises TimeoutError if ``lines`` are not
        all in after ``timeout`` seconds (some were lost, or never sent).
        """
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                data = self.sock.recv(65535)
            except BlockingIOError:
                if lines is None or len(self.lines) >= lines:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"received {len(self.lines)} StatsD lines, expected {lines}"
                    ) from None
                select.select([self.sock], [], [], left)
                continue
            got.append(data)
            self.datagrams.append(data)
            self.lines.extend(Line.parse(text) for text in data.decode().split("\n"))

    def sync(self) -> None:
        """Flush the provider given to ``for_provider`` and read every line it has sent."""
        if self._source is None:
            self.receive()
            return
        self._source.flush()
        self.receive(lines=self._source.stats().lines_sent)

    def close(self) -> None:
        """Close the socket (and remove a Unix socket's file)."""
        self.sock.close()
        if self.socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)

    def __enter__(self) -> StatsdReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- aggregation ------------------------------------------------------------------

    def matching(self, name: str, labels: Mapping[str, str], kinds: Sequence[str]) -> list[Line]:
        """Return the received lines of the series ``name`` with ``labels``, of ``kinds``."""
        wire_name = f"{self.prefix.rstrip('.')}.{name}" if self.prefix else name
        if self.dogstatsd:
            tags = self.constant_tags | {f"{k}:{v}" for k, v in labels.items()}
            return [
                line
                for line in self.lines
                if line.name == wire_name and line.tags == tags and line.kind in kinds
            ]
        if labels:
            wire_name += "." + ".".join(labels.values())
        return [
            line
            for line in self.lines
            if line.name == wire_name and line.tags == self.constant_tags and line.kind in kinds
        ]

    def counter_value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """Return the counter's total: each value scaled by ``1/rate``, as a daemon would."""
        return sum(float(line.value) / line.rate for line in self.matching(name, labels or {}, "c"))

    def gauge_value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """Return the gauge's value after every line (signed values move it, in StatsD)."""
        value = 0.0
        for line in self.matching(name, labels or {}, ("g",)):
            if not self.dogstatsd and line.value[0] in "+-":
                value += float(line.value)
            else:
                value = float(line.value)
        return value

    def observations(self, name: str, labels: Mapping[str, str] | None = None) -> list[float]:
        """Return the histogram's values in arrival order (``ms``, ``h`` and ``d`` lines)."""
        lines = self.matching(name, labels or {}, ("ms", "h", "d"))
        return [float(line.value) for line in lines]

    # -- MetricsReader ----------------------------------------------------------------

    async def counter(self, name: str, labels: Mapping[str, str]) -> float:
        """Return the counter's total after syncing."""
        self.sync()
        return self.counter_value(name, labels)

    async def gauge(self, name: str, labels: Mapping[str, str]) -> float:
        """Return the gauge's value after syncing."""
        self.sync()
        return self.gauge_value(name, labels)

    async def quantiles(
        self, name: str, labels: Mapping[str, str], qs: Sequence[float]
    ) -> list[float]:
        """Return exact quantiles of the values received, after syncing."""
        self.sync()
        values = sorted(self.observations(name, labels))
        return [quantile(values, q) if values else math.nan for q in qs]
