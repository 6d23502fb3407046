"""Hostile clients, as raw bytes over real sockets, against every server ``serve()`` runs.

Each server can stop a different subset of these (``kit_http.limits.SUPPORT``): where
a server can, the test asserts it does; where it cannot, it asserts the hole is still
there, so the table in the README cannot silently drift from the truth.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kit_http.limits import SUPPORT
from kit_http.serve import SERVERS

from kitcore.testing.services import free_port, wait_port

SCRIPT = Path(__file__).with_name("limited_server.py")
BODY = b'{"s":"a"}'
CALL = b"POST /uppercase HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n" + BODY


class Served:
    """A server process: its port, pid, and its output once stopped."""

    def __init__(self, server: str, fd_limit: int | None = None) -> None:
        self.server = server
        self.port = free_port()
        args = [sys.executable, str(SCRIPT), server, str(self.port)]
        if fd_limit is not None:
            args.append(str(fd_limit))
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.output = b""
        try:
            wait_port("127.0.0.1", self.port)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> bytes:
        """Stop the server; return everything it printed."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.output = self.proc.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.output = self.proc.communicate()[0]
        return self.output

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the server process has used."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module", params=SERVERS)
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    """Each server in turn, in its own process, with a 1 s header timeout."""
    server = Served(request.param)
    yield server
    server.stop()


def exchange(port: int, data: bytes, *, half_close: bool = False, wait: float = 10.0) -> bytes:
    """Send ``data``, read until the server closes (or ``wait`` s pass: then b"<open>")."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            return out + b"<open>"
        except ConnectionResetError:
            pass
        return out


def can(served: Served, what: str) -> bool:
    """Whether kit's table says ``served``'s server stops ``what``."""
    return SUPPORT[served.server][what]


def test_content_length_with_transfer_encoding_is_not_smuggled(served: Served) -> None:
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    smuggling = (
        b"POST /uppercase HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n%s" % (len(chunked), chunked)
    ) + b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = exchange(served.port, smuggling, wait=5)
    answered_smuggled = b"404 " in reply  # /smuggled is no route
    assert answered_smuggled is not can(served, "cl_te_closed"), reply
    if can(served, "cl_te_closed"):
        assert not reply.endswith(b"<open>")


def test_oversized_header_gets_431(served: Served) -> None:
    request = b"POST /uppercase HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20)
    reply = exchange(served.port, request + b"\r\nContent-Length: 9\r\n\r\n" + BODY)
    if can(served, "max_header_bytes"):
        assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
    else:
        assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]


def test_too_many_headers_get_431(served: Served) -> None:
    many = b"".join(b"X-H%d: a\r\n" % i for i in range(500))
    reply = exchange(served.port, CALL.replace(b"Host: x\r\n", b"Host: x\r\n" + many, 1))
    expected = b"HTTP/1.1 431 " if can(served, "max_headers") else b"HTTP/1.1 200 "
    assert reply.startswith(expected), reply[:200]


def test_header_read_times_out(served: Served) -> None:
    # The server's header timeout is 1 s; a client waits 5 s for it to act.
    reply = exchange(served.port, b"POST /uppercase HTTP/1.1\r\nHost: x\r\n", wait=5)
    assert reply.endswith(b"<open>") is not can(served, "header_timeout"), reply


def trickle(port: int, *, every: float = 0.3, bytes_: int = 12) -> bool:
    """Send a header a byte every ``every`` s; True when the server closed meanwhile.

    3.6 s in all: past the tests' 1 s header timeout, short of a 5 s idle timeout
    (hypercorn's default keep-alive timeout), so only the configured bound can close it.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /uppercase HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        for _ in range(bytes_):
            time.sleep(every)
            try:
                s.sendall(b"a")
                s.settimeout(0.01)
                s.recv(65536)  # b"" (closed) or an error reply (408, 400): it acted
                return True
            except TimeoutError:
                s.settimeout(5)
            except OSError:  # reset, broken pipe: closed
                return True
    return False


def test_a_trickled_header_times_out_too(served: Served) -> None:
    # Each byte comes before a per-read timeout (1 s) would fire; the header never ends.
    # Only a bound on the whole header read closes this connection.
    assert trickle(served.port) is can(served, "header_timeout")


def test_half_closed_body_gets_a_4xx_or_a_close_never_a_5xx(served: Served) -> None:
    request = b"POST /uppercase HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + BODY
    reply = exchange(served.port, request, half_close=True)
    assert reply == b"" or reply.startswith(b"HTTP/1.1 400 "), reply
    assert exchange(served.port, CALL.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))


def call_once(port: int) -> bytes:
    """One well-behaved request on a new connection (5 s to be answered)."""
    request = CALL.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    return exchange(port, request, wait=5)[:12]


def test_thousand_slowloris_connections_leave_room_for_others(served: Served) -> None:
    slow = []
    try:
        for _ in range(1000):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", served.port))
            slow.append(s)
        time.sleep(0.2)  # let the connections complete before writing to them
        for s in slow:
            # One not connected yet still holds a backlog slot.
            with contextlib.suppress(OSError):
                s.send(b"POST /uppercase HTTP/1.1\r\nHost: x\r\n")
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            replies = list(pool.map(call_once, [served.port] * 10))
        assert replies == [b"HTTP/1.1 200"] * 10
    finally:
        for s in slow:
            s.close()


@pytest.mark.parametrize("server", SERVERS)
def test_accept_errors_back_off_without_flooding_the_log(server: str) -> None:
    served = Served(server, fd_limit=64)
    held = []
    try:
        for _ in range(150):  # far past 64 descriptors: accept() fails with EMFILE
            s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
            s.sendall(b"GET /")
            held.append(s)
        before = served.cpu_seconds()
        time.sleep(2)
        spent = served.cpu_seconds() - before
        for s in held:
            s.close()
        held.clear()
        # A server spinning on accept() burns its whole core: about 2 s here.
        assert spent < 1.0, f"{server} used {spent:.2f} CPU seconds while at EMFILE"
        # The closed connections still queue ahead of a new one: it gets its turn.
        for _ in range(40):
            if call_once(served.port) == b"HTTP/1.1 200":
                break
            time.sleep(0.25)
        else:
            pytest.fail(f"{server} serves no more requests after EMFILE")
    finally:
        for s in held:
            s.close()
        output = served.stop()
    assert len(output.splitlines()) < 50, output[-2000:]
