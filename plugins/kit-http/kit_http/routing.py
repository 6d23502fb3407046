"""Routes: ``"GET /profiles/{id}"`` specs, and a router compiled once for fast lookup.

Static paths are one dict lookup; templates with ``{param}`` segments are regular
expressions tried in the order they were added, after the static paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import quote

H = TypeVar("H")

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BODYLESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
"""Methods whose parameters travel in the path and query, not a body."""


@dataclass(frozen=True)
class RouteSpec:
    """One parsed route: HTTP method, path template and its parameter names."""

    method: str
    template: str
    params: tuple[str, ...]

    @classmethod
    def parse(cls, spec: str, default_method: str = "POST") -> RouteSpec:
        """Parse ``"GET /profiles/{id}"`` (or just ``"/path"``, meaning ``default_method``)."""
        parts = spec.split()
        if len(parts) == 1:
            method, template = default_method, parts[0]
        elif len(parts) == 2:
            method, template = parts[0].upper(), parts[1]
        else:
            raise ValueError(f"bad route {spec!r}: want 'METHOD /path'")
        if method not in METHODS:
            raise ValueError(f"bad route {spec!r}: unknown HTTP method {method!r}")
        if not template.startswith("/"):
            raise ValueError(f"bad route {spec!r}: the path must start with '/'")
        params = tuple(_PARAM.findall(template))
        if len(set(params)) != len(params):
            raise ValueError(f"bad route {spec!r}: a parameter appears twice")
        if "{" in _PARAM.sub("", template) or "}" in _PARAM.sub("", template):
            raise ValueError(f"bad route {spec!r}: malformed '{{param}}'")
        return cls(method, template, params)

    @property
    def static(self) -> bool:
        """True when the path has no parameters."""
        return not self.params

    def pattern(self) -> re.Pattern[str]:
        """The regular expression matching this template; each parameter is one segment."""
        out, last = [], 0
        for m in _PARAM.finditer(self.template):
            out.append(re.escape(self.template[last : m.start()]))
            out.append(f"(?P<{m.group(1)}>[^/]+)")
            last = m.end()
        out.append(re.escape(self.template[last:]))
        return re.compile("".join(out) + r"\Z")

    def format(self, values: Mapping[str, object]) -> str:
        """Fill the template's parameters, percent-encoding each value (client side)."""
        if not self.params:
            return self.template
        return _PARAM.sub(lambda m: quote(str(values[m.group(1)]), safe=""), self.template)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


class Router(Generic[H]):
    """Handlers by path and method; templates with parameters after static paths."""

    def __init__(self) -> None:
        self.static: dict[str, dict[str, H]] = {}
        self._templates: dict[str, tuple[re.Pattern[str], dict[str, H]]] = {}
        self.dynamic: tuple[tuple[re.Pattern[str], dict[str, H]], ...] = ()
        self._added: list[str] = []

    def add(self, route: RouteSpec, handler: H) -> None:
        """Add ``handler`` for ``route``; a route added twice raises ValueError."""
        if route.static:
            methods = self.static.setdefault(route.template, {})
        else:
            key = _PARAM.sub("{}", route.template)
            if key not in self._templates:
                self._templates[key] = (route.pattern(), {})
            pattern, methods = self._templates[key]
            if pattern.groupindex.keys() != set(route.params):
                raise ValueError(f"route {route}: same path as another with other parameter names")
            self.dynamic = tuple(self._templates.values())
        if route.method in methods:
            raise ValueError(f"route {route} is defined twice")
        methods[route.method] = handler
        self._added.append(str(route))

    def match(self, path: str) -> tuple[dict[str, H], dict[str, str] | None] | None:
        """Return the handlers by method for ``path`` and its parameters, or None."""
        methods = self.static.get(path)
        if methods is not None:
            return methods, None
        for pattern, methods in self.dynamic:
            m = pattern.match(path)
            if m is not None:
                return methods, m.groupdict()
        return None

    def routes(self) -> list[str]:
        """Every route as ``"METHOD /path"``, for listings and logs."""
        return list(self._added)
