from __future__ import annotations

import pytest

from kitcore.backoff import Backoff
from kitcore.errors import InvalidArgument, PermissionDenied, Unauthenticated
from kitcore.sd import BaseRegistrar, Registrar, is_final, register_with_backoff


class Recording(BaseRegistrar):
    """A registrar that records the hook calls, optionally failing deregistration."""

    def __init__(self, fail_deregister: bool = False) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.fail_deregister = fail_deregister

    async def _register(self) -> None:
        self.calls.append("register")

    async def _deregister(self) -> None:
        self.calls.append("deregister")
        if self.fail_deregister:
            raise ConnectionError("backend down")

    async def _close(self) -> None:
        self.calls.append("close")


async def test_register_then_deregister_calls_the_hooks_and_tracks_state() -> None:
    registrar = Recording()
    assert not registrar.registered
    await registrar.register()
    assert registrar.registered
    await registrar.deregister()
    assert not registrar.registered
    assert registrar.calls == ["register", "deregister"]


async def test_deregister_when_not_registered_does_nothing() -> None:
    registrar = Recording()
    await registrar.deregister()
    await registrar.register()
    await registrar.deregister()
    await registrar.deregister()
    assert registrar.calls == ["register", "deregister"]


async def test_async_with_registers_on_enter_and_closes_on_exit() -> None:
    registrar = Recording()
    async with registrar as entered:
        assert entered is registrar
        assert registrar.calls == ["register"]
    assert registrar.calls == ["register", "deregister", "close"]
    assert not registrar.registered


async def test_close_deregisters_once_and_is_idempotent() -> None:
    registrar = Recording()
    await registrar.register()
    await registrar.close()
    await registrar.close()
    assert registrar.calls == ["register", "deregister", "close"]


async def test_close_of_an_unregistered_registrar_only_releases() -> None:
    registrar = Recording()
    await registrar.close()
    assert registrar.calls == ["close"]


async def test_register_after_close_is_refused() -> None:
    registrar = Recording()
    await registrar.close()
    with pytest.raises(RuntimeError, match="closed"):
        await registrar.register()


async def test_a_failed_deregister_stays_registered_and_close_still_releases() -> None:
    registrar = Recording(fail_deregister=True)
    await registrar.register()
    with pytest.raises(ConnectionError):
        await registrar.deregister()
    assert registrar.registered
    with pytest.raises(ConnectionError):
        await registrar.close()
    assert registrar.calls == ["register", "deregister", "deregister", "close"]


def test_base_registrar_satisfies_the_registrar_protocol() -> None:
    assert isinstance(Recording(), Registrar)
    with pytest.raises(TypeError):
        BaseRegistrar()  # type: ignore[abstract]


class Flaky(BaseRegistrar):
    """Fails its first ``failures`` registrations with ``error``, then registers."""

    def __init__(self, failures: int, error: Exception) -> None:
        super().__init__()
        self.failures, self.error = failures, error
        self.calls: list[str] = []

    async def _register(self) -> None:
        self.calls.append("register")
        if self.failures:
            self.failures -= 1
            raise self.error

    async def _deregister(self) -> None:
        self.calls.append("deregister")

    async def _close(self) -> None:
        self.calls.append("close")


class Records:
    """A logger keeping its records."""

    def __init__(self) -> None:
        self.records: list[dict[str, object]] = []

    def log(self, **kv: object) -> None:
        self.records.append(kv)


FAST = Backoff(base=0.001, cap=0.002)


async def test_a_failed_first_register_releases_what_it_opened() -> None:
    registrar = Flaky(1, ConnectionError("down"))
    with pytest.raises(ConnectionError):
        await registrar.register()
    assert registrar.calls == ["register", "close"] and not registrar.registered
    await registrar.register()  # and it can try again
    assert registrar.registered


async def test_a_failed_refresh_keeps_the_registration_it_had() -> None:
    registrar = Flaky(0, ConnectionError("down"))
    await registrar.register()
    registrar.failures = 1
    with pytest.raises(ConnectionError):
        await registrar.register()
    assert registrar.calls == ["register", "register"] and registrar.registered


async def test_register_with_backoff_retries_until_it_registers_and_logs_each_failure() -> None:
    registrar, logger = Flaky(3, ConnectionError("down")), Records()
    await register_with_backoff(registrar, backoff=FAST, logger=logger)
    assert registrar.registered
    assert [r["msg"] for r in logger.records] == ["registration failed, retrying"] * 3
    assert all(isinstance(r["err"], ConnectionError) for r in logger.records)


@pytest.mark.parametrize(
    "error", [Unauthenticated("bad password"), PermissionDenied("no"), InvalidArgument("x")]
)
async def test_register_with_backoff_raises_a_final_error_at_once(error: Exception) -> None:
    registrar, logger = Flaky(100, error), Records()
    with pytest.raises(type(error)):
        await register_with_backoff(registrar, backoff=FAST, logger=logger)
    assert registrar.calls == ["register", "close"] and logger.records == []
    assert is_final(error) and not is_final(ConnectionError())
