"""The metric types and label rules, the same on every core provider."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kitcore.metrics import (
    Counter,
    DiscardProvider,
    Gauge,
    Histogram,
    LabelError,
    MemoryProvider,
    Metric,
    MetricRegistry,
    MultiProvider,
    Provider,
)
from kitcore.metrics.metric import unchecked_add, unchecked_observe

PROVIDERS: dict[str, Callable[[], Provider]] = {
    "discard": DiscardProvider,
    "memory": MemoryProvider,
    "multi": lambda: MultiProvider(MemoryProvider(), DiscardProvider()),
    "multi-empty": MultiProvider,
}


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request: pytest.FixtureRequest) -> Provider:
    made = PROVIDERS[request.param]()
    request.addfinalizer(made.close)
    return made


def labelled(provider: Provider) -> list[Metric]:
    labels = ("endpoint", "error")
    return [
        provider.counter("m_total", "help", labels),
        provider.gauge("m_gauge", "help", labels),
        provider.histogram("m_seconds", "help", labels, buckets=(0.1, 1.0)),
    ]


def test_providers_satisfy_the_protocol(provider: Provider) -> None:
    assert isinstance(provider, Provider)
    assert isinstance(provider.counter("a_total"), Counter)
    assert isinstance(provider.gauge("a_gauge"), Gauge)
    assert isinstance(provider.histogram("a_seconds"), Histogram)


def test_metric_carries_name_help_and_label_names(provider: Provider) -> None:
    counter = provider.counter("jobs_total", "Jobs done.", ["queue", "result"])
    assert (counter.name, counter.help, counter.label_names) == (
        "jobs_total",
        "Jobs done.",
        ("queue", "result"),
    )
    assert counter.kind == "counter"
    assert counter.label_values == ()
    assert counter.labels == {}


def test_with_labels_returns_a_new_bound_metric(provider: Provider) -> None:
    for metric in labelled(provider):
        child = metric.with_labels(error=404, endpoint="get")
        assert type(child) is type(metric)
        assert child is not metric
        assert child.label_values == ("get", "404")  # label order, str()'d
        assert child.labels == {"endpoint": "get", "error": "404"}
        assert metric.label_values == ()  # the original is unchanged
        assert "endpoint='get'" in repr(child)


def test_unknown_label_is_a_label_error_at_with_labels(provider: Provider) -> None:
    for metric in labelled(provider):
        with pytest.raises(LabelError, match=r"unknown label 'bogus'") as caught:
            metric.with_labels(endpoint="a", error="none", bogus="x")
        assert metric.name in str(caught.value)
        assert "('endpoint', 'error')" in str(caught.value)
        assert (caught.value.metric, caught.value.label) == (metric.name, "bogus")
        assert caught.value.label_names == ("endpoint", "error")
        assert isinstance(caught.value, ValueError)


def test_unset_label_is_a_label_error_at_with_labels(provider: Provider) -> None:
    for metric in labelled(provider):
        with pytest.raises(LabelError, match=r"label 'error' left unset") as caught:
            metric.with_labels(endpoint="a")
        assert metric.name in str(caught.value)
        assert caught.value.label == "error"


def test_label_given_twice_is_a_label_error(provider: Provider) -> None:
    for metric in labelled(provider):
        child = metric.with_labels(endpoint="a", error="none")
        with pytest.raises(LabelError, match=r"label 'endpoint' given twice: already set to 'a'"):
            child.with_labels(endpoint="b")
        with pytest.raises(LabelError, match=r"unknown label 'other'"):
            child.with_labels(other="b")
        assert child.with_labels() is child


def test_recording_without_labels_says_to_call_with_labels(provider: Provider) -> None:
    counter, gauge, histogram = labelled(provider)
    match = r"call with_labels\(endpoint=\.\.\., error=\.\.\.\) first"
    assert isinstance(counter, Counter)
    assert isinstance(gauge, Gauge)
    assert isinstance(histogram, Histogram)
    with pytest.raises(LabelError, match=match):
        counter.add()
    with pytest.raises(LabelError, match=match):
        gauge.set(1)
    with pytest.raises(LabelError, match=match):
        gauge.add(1)
    with pytest.raises(LabelError, match=match):
        histogram.observe(1)


def test_unlabelled_metric_records_directly_and_refuses_labels(provider: Provider) -> None:
    counter = provider.counter("plain_total")
    counter.add()
    assert counter.with_labels() is counter
    with pytest.raises(LabelError, match=r"metric 'plain_total': unknown label 'x'; its labels"):
        counter.with_labels(x=1)


def test_label_named_like_a_parameter_works(provider: Provider) -> None:
    counter = provider.counter("self_total", "", ("self", "name"))
    assert counter.with_labels(self="a", name="b").label_values == ("a", "b")


def test_counter_refuses_negative_and_nan_delta(provider: Provider) -> None:
    counter = provider.counter("c_total")
    with pytest.raises(ValueError, match=r"counter 'c_total': delta must be >= 0, got -1"):
        counter.add(-1)
    with pytest.raises(ValueError, match="delta must be >= 0"):
        counter.add(float("nan"))


def test_histogram_refuses_nan(provider: Provider) -> None:
    with pytest.raises(ValueError, match="cannot observe NaN"):
        provider.histogram("h_seconds").observe(float("nan"))


def test_same_name_same_kind_returns_the_same_metric(provider: Provider) -> None:
    first = provider.counter("dup_total", "", ("a",))
    assert provider.counter("dup_total", "", ("a",)) is first


def test_same_name_other_kind_is_a_value_error(provider: Provider) -> None:
    provider.counter("clash_total", "", ("a",))
    with pytest.raises(ValueError, match=r"'clash_total' already exists as a counter"):
        provider.gauge("clash_total", "", ("a",))
    with pytest.raises(ValueError, match=r"cannot create it again as a histogram"):
        provider.histogram("clash_total", "", ("a",))


def test_same_name_other_labels_is_a_value_error(provider: Provider) -> None:
    provider.gauge("g", "", ("a",))
    with pytest.raises(ValueError, match=r"already exists with labels \('a',\); .* \('b',\)"):
        provider.gauge("g", "", ("b",))


@pytest.mark.parametrize("name", ["", "1abc", "has space", 'quote"d', "br{ace"])
def test_invalid_metric_name_is_a_value_error(provider: Provider, name: str) -> None:
    with pytest.raises(ValueError, match="invalid metric name"):
        provider.counter(name)


def test_dotted_names_are_allowed_for_statsd_style_backends(provider: Provider) -> None:
    assert provider.counter("api.requests").name == "api.requests"


def test_invalid_label_names_are_refused(provider: Provider) -> None:
    with pytest.raises(LabelError, match=r"invalid label name 'not-ident'"):
        provider.counter("x_total", "", ("not-ident",))
    with pytest.raises(LabelError, match=r"label 'a' declared twice"):
        provider.counter("y_total", "", ("a", "a"))
    with pytest.raises(TypeError, match=r"write \('endpoint',\)"):
        provider.counter("z_total", "", "endpoint")


def test_children_are_cached_per_label_values() -> None:
    counter = MemoryProvider().counter("cached_total", "", ("a",))
    assert counter.with_labels(a="x") is counter.with_labels(a="x")
    assert counter.with_labels(a=1) is counter.with_labels(a="1")
    assert counter.with_labels(a="x") is not counter.with_labels(a="y")


def test_child_cache_is_bounded() -> None:
    class Small(Counter):
        __slots__ = ()
        child_cache_size = 2

        def _bind(self, label_values: tuple[str, ...]) -> Small:
            return Small(self.name, self.help, self.label_names, label_values=label_values)

        def _add(self, delta: float) -> None:
            pass

    counter = Small("small_total", "", ("a",))
    kept = [counter.with_labels(a=i) for i in range(5)]
    assert counter.with_labels(a=0) is kept[0]
    assert counter.with_labels(a=4) is not kept[4]  # beyond the bound: bound anew
    assert counter.with_labels(a=4).label_values == ("4",)


def test_backend_missing_hooks_says_which() -> None:
    class Half(Counter):
        __slots__ = ()

    with pytest.raises(NotImplementedError, match="Half must implement _bind"):
        Half("half_total", "", ("a",)).with_labels(a=1)
    with pytest.raises(NotImplementedError, match="Half must implement _add"):
        Half("half_total").add()


def test_unchecked_recorders_record_on_every_core_provider(provider: Provider) -> None:
    counter = provider.counter("u_total", "", ("kind",)).with_labels(kind="a")
    gauge = provider.gauge("u_depth", "", ("kind",)).with_labels(kind="a")
    histogram = provider.histogram("u_seconds", "", ("kind",)).with_labels(kind="a")
    unchecked_add(counter)(2.0)
    unchecked_add(gauge)(-1.5)
    unchecked_observe(histogram)(0.25)
    if isinstance(provider, MemoryProvider):
        assert provider.counter_value("u_total", kind="a") == 2
        assert provider.gauge_value("u_depth", kind="a") == -1.5
        assert provider.observations("u_seconds", kind="a") == [0.25]


def test_unchecked_recorders_are_the_backend_hooks_of_bound_metrics() -> None:
    provider = MemoryProvider()
    counter = provider.counter("h_total", "", ("kind",)).with_labels(kind="a")
    histogram = provider.histogram("h_seconds").with_labels()
    assert unchecked_add(counter) == counter._add
    assert unchecked_observe(histogram) == histogram._observe


def test_unchecked_recorders_of_unbound_metrics_still_raise() -> None:
    provider = MemoryProvider()
    for metric in (provider.counter("c_total", "", ("a",)), provider.gauge("g", "", ("a",))):
        with pytest.raises(LabelError, match="call with_labels"):
            unchecked_add(metric)(1.0)
    with pytest.raises(LabelError, match="call with_labels"):
        unchecked_observe(provider.histogram("h", "", ("a",)))(1.0)


def test_unchecked_recorders_keep_an_overridden_add_or_observe() -> None:
    seen: list[tuple[str, float]] = []

    class Audited(Counter):
        __slots__ = ()

        def add(self, delta: float = 1.0) -> None:
            seen.append(("add", delta))
            super().add(delta)

        def _add(self, delta: float) -> None:
            seen.append(("_add", delta))

    class AuditedHistogram(Histogram):
        __slots__ = ()

        def observe(self, value: float) -> None:
            seen.append(("observe", value))

        def _observe(self, value: float) -> None:
            raise AssertionError("observe() is overridden: the hook alone must not be used")

    unchecked_add(Audited("a_total"))(3.0)
    unchecked_observe(AuditedHistogram("a_seconds"))(0.5)
    assert seen == [("add", 3.0), ("_add", 3.0), ("observe", 0.5)]
    with pytest.raises(ValueError, match="delta must be >= 0"):
        unchecked_add(Audited("a_total"))(-1.0)  # the override's checks still run


def test_registry_lists_metrics_in_creation_order() -> None:
    registry = MetricRegistry()
    provider = MemoryProvider()
    made = [
        registry.get_or_create(Counter, "b_total", (), lambda names: provider.counter("b_total")),
        registry.get_or_create(Counter, "a_total", (), lambda names: provider.counter("a_total")),
    ]
    assert list(registry) == made
    assert len(registry) == 2
    assert registry.get("a_total") is made[1]
    assert registry.get("missing") is None


def test_provider_opens_builtin_backends_by_name() -> None:
    from kitcore.metrics import DiscardProvider, MemoryProvider, provider
    from kitcore.plugins import BackendNotFound, load, reset

    reset(load(entry_points=False))  # the core alone, whatever plugins are installed
    try:
        assert isinstance(provider("memory"), MemoryProvider)
        assert isinstance(provider("discard"), DiscardProvider)
        with pytest.raises(BackendNotFound, match="install kit-statsd"):
            provider("statsd://127.0.0.1:8125")
    finally:
        reset()
