"""PrometheusProvider: conformance, registries, name clashes, summaries, URLs."""

from __future__ import annotations

import math
import uuid

import prometheus_client
import pytest
from kit_prometheus import PrometheusProvider
from kit_prometheus.testing import RegistryReader, bucket_quantile
from prometheus_client import CollectorRegistry

import kitcore.metrics
from kitcore.metrics import LabelError
from kitcore.testing.metrics import check_provider


def unique(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def test_conformance_on_its_own_registry() -> None:
    provider = PrometheusProvider()
    await check_provider(provider, RegistryReader(provider.registry))


async def test_conformance_on_a_given_registry_twice() -> None:
    registry = CollectorRegistry()
    await check_provider(PrometheusProvider(registry), RegistryReader(registry))
    await check_provider(PrometheusProvider(registry), RegistryReader(registry))


async def test_the_global_registry_when_asked() -> None:
    provider = kitcore.metrics.provider("prometheus://?registry=global")
    assert isinstance(provider, PrometheusProvider)
    assert provider.registry is prometheus_client.REGISTRY
    name = unique("global") + "_total"
    counter = provider.counter(name, "Global.", ("kind",))
    try:
        counter.with_labels(kind="a").add(3)
        reader = RegistryReader(prometheus_client.REGISTRY)
        assert await reader.counter(name, {"kind": "a"}) == 3
        # A second provider on the global registry hands out the very same metric.
        assert (
            PrometheusProvider(prometheus_client.REGISTRY).counter(name, "", ("kind",)) is counter
        )
    finally:
        prometheus_client.REGISTRY.unregister(counter.prom)  # type: ignore[attr-defined]


def test_own_registries_are_separate() -> None:
    first, second = PrometheusProvider(), PrometheusProvider()
    assert first.registry is not second.registry
    first.counter("jobs_total").add(2)
    second.counter("jobs_total").add(5)
    assert first.registry.get_sample_value("jobs_total") == 2
    assert second.registry.get_sample_value("jobs_total") == 5


def test_same_metric_twice_is_the_same_metric() -> None:
    registry = CollectorRegistry()
    provider = PrometheusProvider(registry)
    counter = provider.counter("requests_total", "Requests.", ("method",))
    assert provider.counter("requests_total", "Other help.", ["method"]) is counter
    other = PrometheusProvider(registry)
    assert other.counter("requests_total", "", ("method",)) is counter
    assert other.histogram("latency_seconds") is provider.histogram("latency_seconds")
    assert other.gauge("depth") is provider.gauge("depth")
    assert other.summary("sizes") is provider.summary("sizes")


@pytest.mark.parametrize(
    ("first", "second", "says"),
    [
        (("counter", ("a",)), ("gauge", ("a",)), "already exists as a counter"),
        (("counter", ("a",)), ("counter", ("b",)), "with labels ('b',)"),
        (("histogram", ()), ("summary", ()), "cannot create it again as a summary"),
        (("summary", ()), ("histogram", ()), "cannot create it again as a histogram"),
    ],
)
def test_clashes_are_clear_value_errors(
    first: tuple[str, tuple[str, ...]], second: tuple[str, tuple[str, ...]], says: str
) -> None:
    provider = PrometheusProvider()
    getattr(provider, first[0])("clash", "", first[1])
    with pytest.raises(ValueError, match="'clash'") as info:
        getattr(provider, second[0])("clash", "", second[1])
    assert says in str(info.value)


def test_a_series_another_collector_exposes_is_a_clear_error() -> None:
    registry = CollectorRegistry()
    provider = PrometheusProvider(registry)
    provider.counter("jobs")  # exposes jobs_total
    with pytest.raises(ValueError, match=r"cannot create counter 'jobs_total'.*x_total") as info:
        provider.counter("jobs_total")
    assert type(info.value) is ValueError  # ours, not prometheus-client's DuplicateTimeseries
    prometheus_client.Gauge("raw_depth", "Made without kit.", registry=registry)
    with pytest.raises(ValueError, match="cannot create gauge 'raw_depth'"):
        provider.gauge("raw_depth")
    # The failed names were not remembered: a right call still works afterwards.
    provider.counter("jobs").add()
    assert registry.get_sample_value("jobs_total") == 1


def test_reserved_label_names_are_a_clear_error() -> None:
    provider = PrometheusProvider()
    with pytest.raises(ValueError, match=r"cannot create histogram 'h'.*'le' for histograms"):
        provider.histogram("h", "", ("le",))
    with pytest.raises(ValueError, match="cannot create summary 's'"):
        provider.summary("s", "", ("quantile",))
    with pytest.raises(ValueError, match="invalid metric name"):
        provider.counter("9lives")


def test_label_errors_come_from_kit() -> None:
    counter = PrometheusProvider().counter("c_total", "", ("method", "error"))
    with pytest.raises(LabelError, match="'error' left unset"):
        counter.with_labels(method="get")
    with pytest.raises(LabelError, match="call with_labels"):
        counter.add()


def test_namespace_subsystem_and_dots() -> None:
    provider = PrometheusProvider(namespace="my_group", subsystem="string_service")
    count = provider.counter("request_count", "Number of requests received.", ("method", "error"))
    latency = provider.summary("request_latency_microseconds", "", ("method", "error"))
    result = provider.summary("count_result", "The result of each count method.")
    assert count.name == "my_group_string_service_request_count"
    count.with_labels(method="uppercase", error="false").add()
    latency.with_labels(method="uppercase", error="false").observe(12.5)
    result.observe(3)
    result.observe(4)
    value = provider.registry.get_sample_value
    labels = {"method": "uppercase", "error": "false"}
    assert value("my_group_string_service_request_count_total", labels) == 1
    assert value("my_group_string_service_request_latency_microseconds_count", labels) == 1
    assert value("my_group_string_service_request_latency_microseconds_sum", labels) == 12.5
    assert value("my_group_string_service_count_result_count") == 2
    assert value("my_group_string_service_count_result_sum") == 7
    dotted = PrometheusProvider().gauge("queue.depth")
    assert dotted.name == "queue_depth"


def test_histogram_buckets_per_metric_and_per_provider() -> None:
    provider = PrometheusProvider(buckets=(1, 2))
    provider.histogram("default_bounds").observe(1.5)
    provider.histogram("own_bounds", buckets=(10,)).observe(1.5)
    value = provider.registry.get_sample_value
    assert value("default_bounds_bucket", {"le": "2.0"}) == 1
    assert value("default_bounds_bucket", {"le": "1.0"}) == 0
    assert value("own_bounds_bucket", {"le": "10.0"}) == 1
    assert value("own_bounds_bucket", {"le": "+Inf"}) == 1


def test_gauges_set_and_add() -> None:
    provider = PrometheusProvider()
    gauge = provider.gauge("in_flight", "", ("endpoint",)).with_labels(endpoint="x")
    gauge.set(4)
    gauge.add(-1.5)
    assert provider.registry.get_sample_value("in_flight", {"endpoint": "x"}) == 2.5


def test_exposition_negotiates_the_format() -> None:
    provider = PrometheusProvider()
    provider.counter("hits_total").add()
    text, text_type = provider.exposition()
    assert text_type.startswith("text/plain") and b"hits_total 1.0" in text
    open_metrics, om_type = provider.exposition("application/openmetrics-text; version=1.0.0")
    assert om_type.startswith("application/openmetrics-text")
    assert open_metrics.rstrip().endswith(b"# EOF")


@pytest.mark.parametrize(
    ("url", "options", "want"),
    [
        ("prometheus", {}, ("", "", "all")),
        ("prometheus://", {}, ("", "", "all")),
        ("prometheus://?namespace=a&subsystem=b&gauge_mode=livesum", {}, ("a", "b", "livesum")),
        ("prometheus://?namespace=a", {"namespace": "z"}, ("z", "", "all")),
    ],
)
def test_from_url(url: str, options: dict[str, str], want: tuple[str, str, str]) -> None:
    provider = PrometheusProvider.from_url(url, **options)
    assert (provider.namespace, provider.subsystem, provider.gauge_mode) == want
    assert provider.registry is not prometheus_client.REGISTRY


def test_from_url_registry_and_buckets() -> None:
    registry = CollectorRegistry()
    assert PrometheusProvider.from_url("prometheus", registry=registry).registry is registry
    provider = PrometheusProvider.from_url("prometheus://?buckets=0.1,1,10")
    assert provider.buckets == (0.1, 1.0, 10.0)


@pytest.mark.parametrize(
    ("url", "options", "says"),
    [
        ("prometheus://host:9090", {}, "not a prometheus metrics URL"),
        ("statsd://h:1", {}, "not a prometheus metrics URL"),
        ("prometheus://?colour=red", {}, "unknown prometheus URL parameter"),
        ("prometheus://?registry=mine", {}, "registry must be"),
        ("prometheus", {"gauge_mode": "median"}, "gauge_mode must be one of"),
    ],
)
def test_from_url_errors(url: str, options: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        PrometheusProvider.from_url(url, **options)


def test_multiprocess_dir_set_too_late_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    # prometheus_client was imported without the variable: values would stay per process.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="imported before it was set"):
        PrometheusProvider()


def test_plugin_is_registered() -> None:
    from kitcore.plugins import load

    plugins = load()
    info = {i.name: i for i in plugins.infos}["kit-prometheus"]
    assert info.error is None and info.registers == {"metrics": ["prometheus"]}
    assert isinstance(plugins.open("metrics", "prometheus"), PrometheusProvider)


def test_bucket_quantile_interpolates_like_promql() -> None:
    buckets = [(1.0, 10.0), (2.0, 30.0), (float("inf"), 30.0)]
    assert bucket_quantile(0.5, buckets) == pytest.approx(1.25)  # rank 15: 1 + 5/20
    assert bucket_quantile(0.2, buckets) == pytest.approx(0.6)  # first bucket starts at 0
    assert bucket_quantile(1.0, [(1.0, 1.0), (float("inf"), 2.0)]) == 1.0  # in +Inf
    assert math.isnan(bucket_quantile(0.5, [(1.0, 0.0), (float("inf"), 0.0)]))


async def test_endpoint_metrics_record_into_prometheus() -> None:
    from kitcore.errors import NotFound
    from kitcore.metrics import EndpointMetrics

    provider = PrometheusProvider()
    metrics = EndpointMetrics(provider, namespace="svc")

    async def endpoint(request: str) -> str:
        if request == "missing":
            raise NotFound("no such thing")
        return request.upper()

    instrumented = metrics.middleware("uppercase")(endpoint)
    assert await instrumented("a") == "A"
    with pytest.raises(NotFound):
        await instrumented("missing")
    value = provider.registry.get_sample_value
    assert value("svc_requests_total", {"endpoint": "uppercase", "error": "none"}) == 1
    assert value("svc_requests_total", {"endpoint": "uppercase", "error": "not_found"}) == 1
    assert value("svc_request_duration_seconds_count", {"endpoint": "uppercase", "error": "none"})
    assert value("svc_requests_in_flight", {"endpoint": "uppercase"}) == 0
