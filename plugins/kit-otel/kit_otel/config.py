"""Tracing configured by URL, as every kit backend is, with the OTEL_* variables honoured.

    otlp://host:4317                  OTLP over gRPC
    otlp+http://host:4318[/v1/traces] OTLP over HTTP (protobuf)
    zipkin://host:9411/api/v2/spans   Zipkin v2 JSON
    console                           each span as JSON on stdout
    none                              spans are made (for logs and exemplars), not exported
    otel                              everything from OTEL_TRACES_EXPORTER and OTEL_EXPORTER_*

Query options: ``sample`` (ratio 0..1 of new traces, parent-based: a sampled caller's
decision is kept), ``service`` (``service.name``), ``propagators`` (as
OTEL_PROPAGATORS), ``queue`` (spans held before dropping), ``batch`` (spans per
export), ``delay`` (milliseconds between exports), ``timeout`` (seconds per export),
``processor`` (``batch``, or ``simple``: export inline, for tests and the console).
What the URL leaves out comes from the standard variables: ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER(_ARG)``, ``OTEL_PROPAGATORS``,
``OTEL_BSP_*``, ``OTEL_EXPORTER_OTLP_*`` (headers, compression, timeout), ``OTEL_SDK_DISABLED``.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter

OPTIONS = ("sample", "service", "propagators", "queue", "batch", "delay", "timeout", "processor")
"""The query options a tracing URL may carry."""

SCHEMES = ("otlp", "otlp+http", "zipkin", "console", "none", "otel")
"""Every tracing URL scheme (or bare name) kit-otel serves."""


@dataclass(frozen=True)
class TracingURL:
    """A parsed tracing URL: where spans go and the options given."""

    scheme: str
    endpoint: str | None
    options: dict[str, str] = field(default_factory=dict)


def parse(url: str) -> TracingURL:
    """Parse a tracing URL; raise ValueError naming what is wrong with it."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, _, query = url.partition("?")
        rest = "?" + query if query else ""
    scheme = scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tracing URL {url!r}: use one of {', '.join(SCHEMES)}")
    parts = urllib.parse.urlsplit("//" + rest)
    options = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown tracing URL option(s) {unknown} in {url!r}")
    needs_host = scheme in ("otlp", "otlp+http", "zipkin")
    if needs_host and not parts.netloc:
        raise ValueError(f"tracing URL {url!r} names no host:port")
    if not needs_host and parts.netloc:
        raise ValueError(f"tracing URL {url!r}: {scheme} takes no host")
    endpoint = None
    if scheme == "otlp":
        endpoint = f"http://{parts.netloc}"
    elif scheme == "otlp+http":
        endpoint = (
            f"http://{parts.netloc}{parts.path if parts.path not in ('', '/') else '/v1/traces'}"
        )
    elif scheme == "zipkin":
        endpoint = f"http://{parts.netloc}{parts.path or '/api/v2/spans'}"
    return TracingURL(scheme, endpoint, options)


def exporter(parsed: TracingURL, timeout: float | None = None) -> SpanExporter | None:
    """The exporter the URL names (None for ``none``); ``otel`` reads OTEL_TRACES_EXPORTER."""
    scheme = parsed.scheme
    endpoint = parsed.endpoint
    if scheme == "otel":
        scheme = _env_scheme()
    if scheme == "none":
        return None
    if scheme == "console":
        return ConsoleSpanExporter()
    if scheme == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        insecure = True if endpoint is not None else None
        return OTLPSpanExporter(endpoint=endpoint, insecure=insecure, timeout=timeout)
    if scheme == "otlp+http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HTTPSpanExporter,
        )

        return HTTPSpanExporter(endpoint=endpoint, timeout=timeout)
    from opentelemetry.exporter.zipkin.json import ZipkinExporter

    return ZipkinExporter(endpoint=endpoint, timeout=None if timeout is None else int(timeout))


def _env_scheme() -> str:
    """The scheme OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP(_TRACES)_PROTOCOL select."""
    name = (os.environ.get("OTEL_TRACES_EXPORTER") or "otlp").split(",")[0].strip().lower()
    if name == "otlp":
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
        )
        return "otlp" if protocol.strip() == "grpc" else "otlp+http"
    if name in ("console", "zipkin", "none"):
        return name
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: kit-otel knows otlp, zipkin, console, none")


def number(options: dict[str, Any], name: str, kind: type[float] | type[int]) -> Any:
    """``options[name]`` as ``kind`` (None when absent); ValueError names a bad one."""
    value = options.get(name)
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"tracing option {name}={value!r} is not a {kind.__name__}") from None
