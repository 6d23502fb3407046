"""Log correlation: ``trace_id`` and ``span_id`` on every kitcore.log line inside a span.

They are Valuers, computed as each line is written, so one logger built at start-up
carries the ids of whichever request is logging::

    logger = Logger(LogfmtWriter()).with_(trace_id=trace_id, span_id=span_id)

Outside a sampled span they are None (``null``), so a line never carries an id that
leads nowhere.
"""

from __future__ import annotations

from opentelemetry import trace

from kitcore.log import Logger, Valuer


def current_trace_id() -> str | None:
    """The current sampled span's trace id as 32 hex digits, or None."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.trace_flags.sampled else None


def current_span_id() -> str | None:
    """The current sampled span's id as 16 hex digits, or None."""
    context = trace.get_current_span().get_span_context()
    return format(context.span_id, "016x") if context.trace_flags.sampled else None


trace_id = Valuer(current_trace_id)
"""``logger.with_(trace_id=trace_id)``: the current trace id on each line."""
span_id = Valuer(current_span_id)
"""``logger.with_(span_id=span_id)``: the current span id on each line."""


def correlated(logger: Logger) -> Logger:
    """``logger`` with ``trace_id`` and ``span_id`` on every line."""
    return logger.with_(trace_id=trace_id, span_id=span_id)


def exemplar() -> dict[str, str] | None:
    """The current trace as a Prometheus exemplar's labels (``trace_id``), or None."""
    context = trace.get_current_span().get_span_context()
    if not context.trace_flags.sampled:
        return None
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }
