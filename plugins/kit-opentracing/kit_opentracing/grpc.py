"""kit-grpc options: Go kit's GRPCToContext (server ``before``) and ContextToGRPC (client).

``grpc_to_context`` starts the call's span, child of the caller's span context in the
incoming metadata (a new trace when it is absent or malformed), and puts it in
``kitcore.context`` for ``trace_server`` (kit-grpc's ``named_middleware``) to name and
finish; ``context_to_grpc`` is a kit-grpc client ``before`` writing the current span's
context into the outgoing metadata with the lower-case keys gRPC requires.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentracing.ext import tags  # type: ignore[import-untyped]

from kit_opentracing.carrier import SPAN, extract_metadata, inject_metadata


def text_metadata(metadata: Sequence[tuple[str, str | bytes]]) -> dict[str, str]:
    """The text entries of gRPC metadata as a mapping (binary ``-bin`` ones left out)."""
    return {key: value for key, value in metadata if isinstance(value, str)}


def grpc_to_context(
    tracer: Any, operation_name: str
) -> Callable[[Sequence[tuple[str, str | bytes]]], Mapping[str, Any]]:
    """A kit-grpc server ``before``: a span joined to the caller's, put in the context."""

    def before(metadata: Sequence[tuple[str, str | bytes]]) -> Mapping[str, Any]:
        parent = extract_metadata(tracer, text_metadata(metadata))
        span = tracer.start_span(operation_name, child_of=parent)
        span.set_tag(tags.COMPONENT, "grpc")
        return {SPAN: span}

    return before


def context_to_grpc(tracer: Any) -> Callable[[list[tuple[str, str | bytes]]], None]:
    """A kit-grpc client ``before``: the current span's context into the metadata."""

    def before(metadata: list[tuple[str, str | bytes]]) -> None:
        carrier: dict[str, str] = {}
        inject_metadata(tracer, carrier)
        metadata.extend(carrier.items())

    return before
