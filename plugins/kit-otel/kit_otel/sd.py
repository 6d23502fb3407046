"""Discovery changes as span events: an Instancer subscriber.

Each new instance set (or discovery error) becomes an event ``kit.sd.update`` on the
span current when it arrives, and, when there is none, on a short span of its own
``kit.sd.update``, so that a trace viewer shows when instances came and went.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from kitcore.sd import Instancer

if TYPE_CHECKING:
    from kit_otel.tracing import Tracing

EVENT = "kit.sd.update"


def event_attributes(
    instances: tuple[str, ...], previous: tuple[str, ...], error: Any
) -> dict[str, Any]:
    """The attributes of one discovery event: the set, what joined, what left, the error."""
    attributes: dict[str, Any] = {
        "kit.sd.instances": list(instances),
        "kit.sd.added": sorted(set(instances) - set(previous)),
        "kit.sd.removed": sorted(set(previous) - set(instances)),
    }
    if error is not None:
        attributes["kit.sd.error"] = f"{type(error).__name__}: {error}"
    return attributes


async def record_discovery(tracing: Tracing, instancer: Instancer, service: str = "") -> None:
    """Record every event of ``instancer`` until it closes (run it as a task)."""
    previous: tuple[str, ...] = ()
    async for event in instancer.subscribe():
        attributes = event_attributes(event.instances, previous, event.error)
        if service:
            attributes["rpc.service"] = service
        current = trace.get_current_span()
        if current.is_recording():
            current.add_event(EVENT, attributes)
        else:
            with tracing.tracer.start_as_current_span(
                EVENT, attributes={"rpc.service": service}
            ) as span:
                span.add_event(EVENT, attributes)
        previous = event.instances


def watch_discovery(
    tracing: Tracing, instancer: Instancer, service: str = ""
) -> asyncio.Task[None]:
    """Start ``record_discovery`` as a task; cancel it (or close the instancer) to stop."""
    return asyncio.get_running_loop().create_task(record_discovery(tracing, instancer, service))
