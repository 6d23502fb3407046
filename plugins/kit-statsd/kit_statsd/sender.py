"""Sender: buffers StatsD lines and sends them in datagrams of a safe size.

Recording a metric appends one line to a buffer under a lock; the buffer goes out as
one datagram (lines joined by newlines) when the next line would make it larger than
``max_datagram`` bytes, every ``flush_interval`` seconds from a background thread, and
at ``flush()`` and ``close()``. The socket is non-blocking and every send error is
counted and swallowed: a daemon that is down, or a full socket buffer, drops metrics
but never raises into the service or blocks it.

Datagrams go over UDP, or over a Unix datagram socket (DogStatsD's
``/var/run/datadog/dsd.socket``: no network stack, and an Agent that is down refuses
at once instead of an ICMP error later). The Unix socket is addressed on each send
rather than connected, so an Agent that restarts and binds its socket again is
reached again without reconnecting.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

SAFE_DATAGRAM = 1432
"""Bytes per datagram that pass an Ethernet MTU of 1500 unfragmented (as DogStatsD's
default); raise it for loopback or jumbo frames, up to 65,507."""

UNIX_DATAGRAM = 8192
"""Bytes per datagram over a Unix socket (as DogStatsD's clients): no MTU to fit."""


@dataclass(frozen=True)
class SenderStats:
    """What a Sender did so far: lines and datagrams sent, and lines lost."""

    lines_sent: int
    datagrams_sent: int
    lines_dropped: int
    send_errors: int


class Sender:
    """A buffered, non-blocking sender of StatsD lines to ``host:port`` or ``socket_path``.

    ``host`` is resolved once, here; a name that does not resolve is a ValueError.
    ``socket_path`` (a Unix datagram socket) replaces host and port; the socket need not
    exist yet. ``max_datagram`` defaults to SAFE_DATAGRAM over UDP and UNIX_DATAGRAM
    over a Unix socket. ``flush_interval`` of None or 0 starts no thread: lines then go
    out when a datagram fills, and at ``flush()`` and ``close()``.
    """

    address: str | tuple[str, int]
    """Where datagrams go: the socket path, or the resolved ``(ip, port)``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8125,
        *,
        socket_path: str | None = None,
        max_datagram: int | None = None,
        flush_interval: float | None = 1.0,
    ) -> None:
        if max_datagram is None:
            max_datagram = SAFE_DATAGRAM if socket_path is None else UNIX_DATAGRAM
        if not 64 <= max_datagram <= 65507:
            raise ValueError(f"max_datagram must be in 64..65507 bytes, got {max_datagram}")
        if flush_interval is not None and flush_interval < 0:
            raise ValueError(f"flush_interval must be >= 0 seconds, got {flush_interval}")
        if socket_path is None:
            try:
                family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
            except (OSError, UnicodeError) as exc:
                raise ValueError(f"cannot resolve the StatsD address {host}:{port}: {exc}") from exc
            self.address = (str(address[0]), int(address[1]))
            self._sock = socket.socket(family, socket.SOCK_DGRAM)
            # Connected: the kernel resolves the route once, and send() beats sendto().
            self._sock.connect(address)
            self._path: str | None = None
            where = f"{self.address[0]}:{self.address[1]}"
        else:
            self.address = where = self._path = socket_path
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self.max_datagram = max_datagram
        self.flush_interval = flush_interval or None
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._size = -1  # bytes of the joined buffer; -1 when empty: the first line adds no "\n"
        self._closed = False
        self._lines_sent = 0
        self._datagrams_sent = 0
        self._lines_dropped = 0
        self._send_errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.flush_interval:
            self._thread = threading.Thread(
                target=self._flush_every,
                args=(self.flush_interval,),
                name=f"kit-statsd flush {where}",
                daemon=True,  # a provider never closed must not hold the interpreter open
            )
            self._thread.start()

    def send(self, line: str, size: int) -> None:
        """Buffer one ``line`` of ``size`` bytes (UTF-8), sending the buffer first if full."""
        with self._lock:
            if self._closed:
                self._lines_dropped += 1
                return
            grown = self._size + 1 + size
            if grown <= self.max_datagram or not self._lines:
                self._lines.append(line)
                self._size = grown
                return
            ready = self._lines
            self._lines = [line]
            self._size = size
        self._write(ready)

    def flush(self) -> None:
        """Send what is buffered now."""
        with self._lock:
            ready = self._lines
            self._lines = []
            self._size = -1
        if ready:
            self._write(ready)

    def close(self) -> None:
        """Stop the flush thread, send what is buffered and close the socket; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            ready = self._lines
            self._lines = []
        if ready:
            self._write(ready)
        self._sock.close()

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    def stats(self) -> SenderStats:
        """Return the counts of lines and datagrams sent and lines dropped so far."""
        with self._lock:
            return SenderStats(
                self._lines_sent, self._datagrams_sent, self._lines_dropped, self._send_errors
            )

    def _write(self, lines: list[str]) -> None:
        data = "\n".join(lines).encode()
        try:
            if self._path is None:
                self._sock.send(data)
            else:
                self._sock.sendto(data, self._path)
        except OSError:
            # Refused (no daemon: the ICMP error of an earlier datagram, or no socket at
            # the path), buffer full, or too big: the metrics are lost, the service goes on.
            with self._lock:
                self._lines_dropped += len(lines)
                self._send_errors += 1
            return
        with self._lock:
            self._lines_sent += len(lines)
            self._datagrams_sent += 1

    def _flush_every(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.flush()
