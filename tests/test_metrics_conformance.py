"""The metrics conformance suite itself: it passes a good backend and catches bad ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from kitcore.metrics import Counter, Gauge, MemoryProvider
from kitcore.testing.metrics import MemoryReader, check_provider


class SkewedReader(MemoryReader):
    """Reads quantiles 10% too high, as a coarse-bucketed backend might."""

    async def quantiles(
        self, name: str, labels: Mapping[str, str], qs: Sequence[float]
    ) -> list[float]:
        return [value * 1.1 for value in await super().quantiles(name, labels, qs)]


class DroppingProvider(MemoryProvider):
    """A broken backend whose counters ignore the delta and always add 1."""

    def counter(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Counter:
        counter = super().counter(name, help, label_names)
        original = type(counter)._add

        class Dropping(type(counter)):  # type: ignore[misc]
            __slots__ = ()

            def _bind(self, label_values: tuple[str, ...]) -> Counter:
                child: Counter = super()._bind(label_values)
                child.__class__ = Dropping
                return child

            def _add(self, delta: float) -> None:
                original(self, 1.0)

        counter.__class__ = Dropping
        return counter


class SloppyGaugeProvider(MemoryProvider):
    """A broken backend whose gauges silently drop unknown labels."""

    def gauge(self, name: str, help: str = "", label_names: Sequence[str] = ()) -> Gauge:
        gauge = super().gauge(name, help, label_names)

        class Sloppy(type(gauge)):  # type: ignore[misc]
            __slots__ = ()

            def with_labels(self, /, **values: object) -> Gauge:
                known = {k: v for k, v in values.items() if k in self.label_names}
                return super().with_labels(**known)  # type: ignore[no-any-return]

        gauge.__class__ = Sloppy
        return gauge


async def test_suite_reports_quantiles_out_of_tolerance() -> None:
    provider = MemoryProvider()
    with pytest.raises(
        AssertionError, match=r"q0\.5 read .* true quantile .* \(tolerance 3\.0% relative\)"
    ):
        await check_provider(provider, SkewedReader(provider))


async def test_suite_tolerance_is_adjustable() -> None:
    provider = MemoryProvider()
    await check_provider(provider, SkewedReader(provider), quantile_tolerance=0.11)


async def test_suite_reports_wrong_counter_values() -> None:
    provider = DroppingProvider()
    with pytest.raises(AssertionError, match=r"code=200\}: read 4\.0, expected 5\.0"):
        await check_provider(provider, MemoryReader(provider))


async def test_suite_reports_missing_label_errors() -> None:
    provider = SloppyGaugeProvider()
    with pytest.raises(AssertionError, match=r"raised nothing, expected .*LabelError"):
        await check_provider(provider, MemoryReader(provider))


async def test_suite_uses_the_given_prefix() -> None:
    provider = MemoryProvider()
    await check_provider(provider, MemoryReader(provider), prefix="mine", samples=1000)
    assert provider.snapshot()
    assert all(name.startswith("mine_") for name in provider.snapshot())


async def test_suite_refuses_too_few_samples() -> None:
    provider = MemoryProvider()
    with pytest.raises(ValueError, match="samples must be >= 1000"):
        await check_provider(provider, MemoryReader(provider), samples=10)
