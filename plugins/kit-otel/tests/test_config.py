"""Tracing by URL and by the OTEL_* variables; sampling; the plugin registration."""

from __future__ import annotations

import asyncio

import pytest
from kit_otel import Tracing
from kit_otel.config import parse
from kit_otel.processor import BoundedProcessor
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPC
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTP
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kitcore.plugins import plugins


def _exporter(t: Tracing) -> object:
    assert t.exporter is not None
    return t.exporter.exporter


def test_urls_pick_the_exporter() -> None:
    cases = {
        "otlp://127.0.0.1:4317": GRPC,
        "otlp+http://127.0.0.1:4318": HTTP,
        "zipkin://127.0.0.1:9411/api/v2/spans": ZipkinExporter,
        "console": ConsoleSpanExporter,
    }
    for url, kind in cases.items():
        t = plugins().open("tracing", url)
        try:
            assert isinstance(_exporter(t), kind), url
        finally:
            t.close()
    assert parse("otlp+http://h:4318").endpoint == "http://h:4318/v1/traces"
    assert parse("otlp+http://h:4318/custom").endpoint == "http://h:4318/custom"
    assert parse("zipkin://h:9411").endpoint == "http://h:9411/api/v2/spans"
    assert parse("otlp://h:4317").endpoint == "http://h:4317"
    none = Tracing.from_url("none")
    assert none.exporter is None and none.processor is None
    none.close()


def test_url_options() -> None:
    t = Tracing.from_url("otlp+http://127.0.0.1:4318?sample=0.25&service=svc&queue=8&batch=4")
    try:
        assert isinstance(t.processor, BoundedProcessor)
        assert t.provider.resource.attributes["service.name"] == "svc"
        assert "0.25" in t.provider.sampler.get_description()
        assert "ParentBased" in t.provider.sampler.get_description()
    finally:
        t.close()
    console = Tracing.from_url("console://?propagators=b3")
    assert isinstance(console.processor, SimpleSpanProcessor)
    assert console.propagator.fields == {"b3"}
    console.close()


@pytest.mark.parametrize(
    "url",
    [
        "jaeger://h:1",
        "otlp://",
        "console://h:1",
        "otlp://h:4317?bogus=1",
        "otlp://h:4317?sample=lots",
        "otlp://h:4317?sample=2",
        "console://?propagators=xray",
        "console://?processor=eager",
    ],
)
def test_bad_urls_say_what_is_wrong(url: str) -> None:
    with pytest.raises(ValueError):
        Tracing.from_url(url).close()


def test_otel_environment_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    monkeypatch.setenv("OTEL_PROPAGATORS", "b3multi")
    t = plugins().open("tracing", "otel")
    try:
        assert isinstance(_exporter(t), ZipkinExporter)
        attributes = t.provider.resource.attributes
        assert attributes["service.name"] == "from-env"
        assert attributes["deployment.environment"] == "test"
        assert "0.5" in t.provider.sampler.get_description()
        assert "x-b3-traceid" in t.propagator.fields
    finally:
        t.close()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    grpc_t = Tracing.from_url("otel")
    assert isinstance(_exporter(grpc_t), GRPC)
    grpc_t.close()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    http_t = Tracing.from_url("otel")
    assert isinstance(_exporter(http_t), HTTP)
    http_t.close()


def test_sdk_disabled_makes_no_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    t = Tracing(InMemorySpanExporter(), processor="simple")
    assert t.exporter is None and t.root_off
    with t.tracer.start_as_current_span("x") as span:
        assert not span.is_recording()
    t.close()


async def test_parent_based_sampling_keeps_the_callers_decision() -> None:
    exporter = InMemorySpanExporter()
    t = Tracing(exporter, processor="simple", sample=0.0)
    assert t.root_off

    async def ep(request: object) -> object:
        return request

    trace_id = "80f198ee56343ba864fe8b2a57d3eff7"
    sampled = {"traceparent": f"00-{trace_id}-e457b5a2e4d86bd1-01"}
    unsampled = {"traceparent": f"00-{trace_id}-e457b5a2e4d86bd1-00"}
    for metadata in (None, unsampled, sampled):
        traced = t.server_middleware("m", system="test", metadata=lambda m=metadata: m)(ep)
        assert await traced("x") == "x"
    (span,) = exporter.get_finished_spans()  # only the sampled caller's call
    assert format(span.context.trace_id, "032x") == trace_id
    t.close()


async def test_discovery_changes_are_span_events(memory) -> None:
    from kitcore.sd import Event
    from kitcore.sd.instancer import BaseInstancer

    instancer = BaseInstancer()
    task = memory.tracing.watch(instancer, "stringsvc")
    instancer.update(Event(["a:1"]))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    instancer.update(Event(["a:1", "b:2"]))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await instancer.close()
    await task
    events = [e for s in memory.spans() for e in s.events]
    assert [e.name for e in events] == ["kit.sd.update", "kit.sd.update"]
    assert list(events[0].attributes["kit.sd.added"]) == ["a:1"]
    assert list(events[1].attributes["kit.sd.added"]) == ["b:2"]
    assert list(events[1].attributes["kit.sd.instances"]) == ["a:1", "b:2"]
    assert events[1].attributes["rpc.service"] == "stringsvc"
