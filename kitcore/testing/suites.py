"""kit's conformance suites as pytest test classes: subclass one, define its fixtures.

Each class runs one suite of :mod:`kitcore.testing` as a test method whose arguments
are fixtures the subclass defines (as methods decorated with ``pytest.fixture``, free
to use other fixtures such as ``shared_etcd``)::

    from kitcore.testing.suites import InstancerSuite

    class TestMyInstancer(InstancerSuite):
        @pytest.fixture
        def make_instancer(self, shared_etcd):
            return lambda: kitcore.sd.instancer(f"myreg://{shared_etcd.address}/svc")

        @pytest.fixture
        def instancer_driver(self, shared_etcd):
            return MyDriver(shared_etcd)

The classes' names do not start with ``Test``, so pytest collects only the subclasses.
Their tests are coroutines marked for pytest-asyncio. Like the rest of kitcore.testing
this module is for test runs only; it imports pytest.
"""

from __future__ import annotations

from typing import Any

import pytest

from kitcore.testing.breaker import check_breaker
from kitcore.testing.limiter import check_allower, check_waiter
from kitcore.testing.metrics import check_provider
from kitcore.testing.sd import check_instancer, check_registrar
from kitcore.testing.tracing import check_tracer


class InstancerSuite:
    """Fixtures: ``make_instancer`` (``() -> Instancer``) and ``instancer_driver``."""

    instancer_timeout = 5.0

    @pytest.mark.asyncio
    async def test_instancer_contract(self, make_instancer: Any, instancer_driver: Any) -> None:
        """The Instancer keeps kit's contract (:func:`kitcore.testing.check_instancer`)."""
        await check_instancer(make_instancer, instancer_driver, timeout=self.instancer_timeout)


class RegistrarSuite:
    """Fixtures: ``make_registrar`` (``instance -> Registrar``), ``registered_instances``."""

    registrar_timeout = 5.0

    @pytest.mark.asyncio
    async def test_registrar_contract(self, make_registrar: Any, registered_instances: Any) -> None:
        """The Registrar keeps kit's contract (:func:`kitcore.testing.check_registrar`)."""
        await check_registrar(make_registrar, registered_instances, timeout=self.registrar_timeout)


class ProviderSuite:
    """Fixtures: ``metrics_provider`` and ``metrics_reader`` (a MetricsReader of it)."""

    @pytest.mark.asyncio
    async def test_provider_contract(self, metrics_provider: Any, metrics_reader: Any) -> None:
        """The provider records what it is told (:func:`kitcore.testing.check_provider`)."""
        await check_provider(metrics_provider, metrics_reader)


class BreakerSuite:
    """Fixture: ``make_breaker`` (``(fail_max, reset_timeout) -> Breaker``)."""

    @pytest.mark.asyncio
    async def test_breaker_contract(self, make_breaker: Any) -> None:
        """The breaker keeps kit's contract (:func:`kitcore.testing.check_breaker`)."""
        await check_breaker(make_breaker)


class AllowerSuite:
    """Fixture: ``make_allower`` (``(rate, burst) -> Allower``)."""

    @pytest.mark.asyncio
    async def test_allower_contract(self, make_allower: Any) -> None:
        """The Allower keeps kit's contract (:func:`kitcore.testing.check_allower`)."""
        await check_allower(make_allower)


class WaiterSuite:
    """Fixture: ``make_waiter`` (``(rate, burst) -> Waiter``)."""

    @pytest.mark.asyncio
    async def test_waiter_contract(self, make_waiter: Any) -> None:
        """The Waiter keeps kit's contract (:func:`kitcore.testing.check_waiter`)."""
        await check_waiter(make_waiter)


class TracerSuite:
    """Fixture: ``make_tracer`` (``() -> tracer``)."""

    @pytest.mark.asyncio
    async def test_tracer_contract(self, make_tracer: Any) -> None:
        """The tracer's middleware is transparent (:func:`kitcore.testing.check_tracer`)."""
        await check_tracer(make_tracer)


__all__ = [
    "AllowerSuite",
    "BreakerSuite",
    "InstancerSuite",
    "ProviderSuite",
    "RegistrarSuite",
    "TracerSuite",
    "WaiterSuite",
]
