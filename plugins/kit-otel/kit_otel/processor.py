"""The span processor: export in the background from a bounded queue, counting what is lost.

A request never waits for the exporter: ending a span puts it on a queue that a
background thread drains in batches (the SDK's BatchSpanProcessor). When the
collector is down or slow the queue fills and the oldest spans are dropped; kit
counts them, so a dashboard can show tracing losing data instead of a service slowing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class CountingExporter(SpanExporter):
    """Wraps an exporter, counting the spans it exported and those it failed to."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.exported = 0
        self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export through the wrapped exporter; an exception counts as a failure."""
        try:
            result = self.exporter.export(spans)
        except Exception:
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
        else:
            self.failed += len(spans)
        return result

    def shutdown(self) -> None:
        """Shut the wrapped exporter down."""
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the wrapped exporter."""
        return self.exporter.force_flush(timeout_millis)


class _DropCounter:
    """Stands in for the SDK processor's own metrics, counting the drops it reports.

    The SDK reports each span its full queue drops at the moment it drops it, on the
    thread ending the span; counting there is exact, where checking the queue's length
    beforehand races with the export thread taking a batch.
    """

    def __init__(self, metrics: Any) -> None:
        self.metrics = metrics
        self.dropped = 0

    def drop_items(self, count: int, error_type: str = "queue_full") -> None:
        """Count ``count`` dropped spans (queue full, or ended after shutdown), then report."""
        self.dropped += count
        self.metrics.drop_items(count, error_type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.metrics, name)


class BoundedProcessor(BatchSpanProcessor):
    """The SDK's batch processor, counting the spans its full queue drops."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int | None = None,
        schedule_delay_millis: float | None = None,
        max_export_batch_size: int | None = None,
    ) -> None:
        super().__init__(
            exporter,
            max_queue_size=max_queue_size,
            schedule_delay_millis=schedule_delay_millis,
            max_export_batch_size=max_export_batch_size,
        )
        batcher = self._batch_processor
        self._drops = _DropCounter(batcher._metrics)
        batcher._metrics = self._drops

    @property
    def dropped(self) -> int:
        """Spans dropped: the queue was full, or they ended after shutdown."""
        return self._drops.dropped
