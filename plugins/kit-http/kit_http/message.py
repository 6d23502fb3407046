"""The request and response objects that server options and explicit codecs see.

The server's hot path works on the raw ASGI scope; a ``Request`` is only built when a
user function needs one (an option, or an explicit decode function), and its headers
and query are parsed on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

JSON = "application/json"


class Request:
    """One HTTP request as server options and decode functions see it."""

    __slots__ = ("_headers", "_query", "body", "path_params", "scope")

    def __init__(
        self, scope: Mapping[str, Any], path_params: Mapping[str, str] | None = None
    ) -> None:
        self.scope = scope
        self.path_params: Mapping[str, str] = path_params or {}
        self.body = b""
        self._headers: dict[str, str] | None = None
        self._query: dict[str, str] | None = None

    @property
    def method(self) -> str:
        """The HTTP method, upper case."""
        return str(self.scope["method"])

    @property
    def path(self) -> str:
        """The request path, percent-decoded, as the ASGI server gives it."""
        return str(self.scope["path"])

    @property
    def headers(self) -> Mapping[str, str]:
        """Request headers by lower-case name; repeated headers are joined with ``", "``."""
        if self._headers is None:
            headers: dict[str, str] = {}
            for name, value in self.scope.get("headers", ()):
                key, text = name.decode("latin-1").lower(), value.decode("latin-1")
                headers[key] = f"{headers[key]}, {text}" if key in headers else text
            self._headers = headers
        return self._headers

    @property
    def query(self) -> Mapping[str, str]:
        """Query parameters (the last value of a repeated one)."""
        if self._query is None:
            raw = self.scope.get("query_string", b"").decode("latin-1")
            self._query = dict(parse_qsl(raw, keep_blank_values=True))
        return self._query

    @property
    def client(self) -> tuple[str, int] | None:
        """The peer's ``(host, port)`` when the server knows it."""
        client = self.scope.get("client")
        return (str(client[0]), int(client[1])) if client else None

    def __repr__(self) -> str:
        return f"Request({self.method} {self.path})"


class Response:
    """A response an encode function or error encoder returns; ``after`` may edit it."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        body: bytes = b"",
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
        content_type: str | None = JSON,
    ) -> None:
        self.body = body
        self.status = status
        self.headers: list[tuple[str, str]] = headers if headers is not None else []
        self.content_type = content_type

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The ASGI header list: content type, length, then ``headers`` in order."""
        raw: list[tuple[bytes, bytes]] = []
        if self.content_type is not None:
            raw.append((b"content-type", self.content_type.encode("latin-1")))
        raw.append((b"content-length", b"%d" % len(self.body)))
        for name, value in self.headers:
            raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        return raw

    def __repr__(self) -> str:
        return f"Response({self.status}, {len(self.body)} bytes)"
