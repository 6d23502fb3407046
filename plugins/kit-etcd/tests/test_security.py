"""Credentials and TLS: etcd with auth enabled, and etcd speaking TLS only."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from kit_etcd import EtcdAuthError, EtcdPermissionError, EtcdRegistrar
from kit_etcd_testlib import Etcd, Recorder, config, instancer

from kitcore import sd
from kitcore.errors import Unauthenticated
from kitcore.testing.sd import check_instancer, check_registrar
from kitcore.testing.sd import event_where as next_event
from kitcore.testing.sd import has_instances as instances
from kitcore.testing.sd import is_error as failing
from kitcore.testing.servers import EtcdServer, etcd_server

USER, PASSWORD = "kit", "pa55-w0rd-secret"


@pytest.fixture(scope="module")
def auth_etcd() -> Iterator[EtcdServer]:
    """An etcd with auth enabled and a read-write user ``kit``."""
    with etcd_server(auth=(USER, PASSWORD)) as server:
        yield server


class AuthDriver:
    """Adds and removes instances as the user ``kit``."""

    def __init__(self, server: EtcdServer, prefix: str) -> None:
        self.etcd = Etcd(server.host, server.port, USER, PASSWORD)
        self.prefix = prefix

    async def add(self, instance: str) -> None:
        await self.etcd.put(f"{self.prefix}/{instance}", instance)

    async def remove(self, instance: str) -> None:
        await self.etcd.delete(f"{self.prefix}/{instance}")


async def test_instancer_and_registrar_log_in_with_the_urls_credentials(
    auth_etcd: EtcdServer, prefix: str
) -> None:
    url = f"etcd://{USER}:{PASSWORD}@{auth_etcd.url}{prefix}"
    await check_instancer(lambda: instancer(url), AuthDriver(auth_etcd, prefix))
    etcd = Etcd(auth_etcd.host, auth_etcd.port, USER, PASSWORD)

    async def registered() -> set[str]:
        return set((await etcd.values(prefix)).values())

    await check_registrar(lambda i: EtcdRegistrar(config(url), i), registered)


async def test_credentials_may_be_given_as_options_instead(
    auth_etcd: EtcdServer, prefix: str
) -> None:
    url = f"etcd://{auth_etcd.url}{prefix}"
    async with EtcdRegistrar(config(url, username=USER, password=PASSWORD), "10.0.0.1:80"):
        watcher = instancer(url, username=USER, password=PASSWORD)
        try:
            await next_event(watcher.subscribe(), instances("10.0.0.1:80"))
        finally:
            await watcher.close()


@pytest.mark.parametrize("auth", ["", "kit:wrong-password@", "nobody:x@"])
async def test_missing_or_wrong_credentials_give_error_events_that_hide_the_password(
    auth_etcd: EtcdServer, prefix: str, auth: str
) -> None:
    logger = Recorder()
    watcher = instancer(f"etcd://{auth}{auth_etcd.url}{prefix}", logger=logger)
    try:
        event = await next_event(watcher.subscribe(), failing)
        assert "wrong-password" not in f"{event.error!s} {event.error!r}"
    finally:
        await watcher.close()
    assert logger.records
    assert "wrong-password" not in logger.text()


async def test_the_password_never_reaches_the_log(auth_etcd: EtcdServer, prefix: str) -> None:
    logger = Recorder()
    url = f"etcd://{USER}:{PASSWORD}@{auth_etcd.url}{prefix}"
    watcher = instancer(url, logger=logger)
    try:
        subscription = watcher.subscribe()
        await next_event(subscription, instances())
        await asyncio.to_thread(auth_etcd.stop)  # the instancer logs failures, with its URL
        await next_event(subscription, failing)
        await asyncio.to_thread(auth_etcd.start)
        await next_event(subscription, instances())
    finally:
        await watcher.close()
    assert logger.records and f"{USER}:***@" in logger.text()
    assert PASSWORD not in logger.text()
    assert PASSWORD not in repr(watcher.config)


def tls_url(server: Any, prefix: str, **files: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in files.items())
    return f"etcd://{server.host}:{server.port}{prefix}" + (f"?{query}" if query else "")


async def test_tls_with_a_client_certificate(tls_etcd: Any, prefix: str) -> None:
    f = tls_etcd.files
    url = tls_url(tls_etcd, prefix, ca=f.ca, cert=f.client_cert, key=f.client_key)
    watcher = instancer(url)
    try:
        subscription = watcher.subscribe()
        await next_event(subscription, instances())
        async with EtcdRegistrar(config(url), "10.0.0.1:80"):
            await next_event(subscription, instances("10.0.0.1:80"))
        await next_event(subscription, instances())
    finally:
        await watcher.close()


@pytest.mark.parametrize("files", ["none", "ca-only"])
async def test_tls_refuses_clients_without_tls_or_certificate(
    tls_etcd: Any, prefix: str, files: str
) -> None:
    options = {"ca": tls_etcd.files.ca} if files == "ca-only" else {}
    watcher = instancer(tls_url(tls_etcd, prefix, **options, timeout=1))
    try:
        event = await next_event(watcher.subscribe(), failing)
        assert event.instances == ()
    finally:
        await watcher.close()


@pytest.fixture(scope="module")
def short_token_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    """An etcd with auth whose login tokens expire after one idle second."""
    server = EtcdServer(tmp_path_factory.mktemp("etcd-token"), auth=(USER, PASSWORD))
    server.process.argv.append("--auth-token-ttl=1")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_an_expired_login_token_is_renewed_by_logging_in_again(
    short_token_etcd: EtcdServer, prefix: str
) -> None:
    server = short_token_etcd
    url = f"etcd://{USER}:{PASSWORD}@{server.url}{prefix}?ttl=1"
    etcd = Etcd(server.host, server.port, USER, PASSWORD)
    reg = EtcdRegistrar(config(url), "10.0.0.1:80")
    try:
        await reg.register()
        await asyncio.sleep(1.5)  # the token expires; lease keepalives do not use it
        async with etcd.client() as client:
            await client.revoke_lease(reg.lease_id)
        # Putting the key on a new lease needs a valid token: the registrar logs in again.
        for _ in range(200):
            if await etcd.values(prefix):
                break
            await asyncio.sleep(0.01)
        assert await etcd.values(prefix) == {f"{prefix}/10.0.0.1:80": "10.0.0.1:80"}
        await asyncio.sleep(1.5)
        await reg.deregister()  # with an expired token again
        assert await etcd.values(prefix) == {}
    finally:
        await reg.close()


@pytest.mark.parametrize("auth", ["kit:wrong-password@", "nobody:x@"])
async def test_refused_credentials_are_final_and_leave_nothing_open(
    auth_etcd: EtcdServer, prefix: str, auth: str
) -> None:
    reg = EtcdRegistrar(config(f"etcd://{auth}{auth_etcd.url}{prefix}"), "10.0.0.1:80")
    try:
        with pytest.raises(Unauthenticated) as raised:
            # Refused at once: no retry can fix a password (this would loop otherwise).
            await asyncio.wait_for(sd.register_with_backoff(reg), 10)
        assert isinstance(raised.value, EtcdAuthError) and sd.is_final(raised.value)
        assert "authentication failed" in str(raised.value)
        assert not reg.registered
        assert reg._client is None  # the failed start closed its channel
    finally:
        await reg.close()


def auth_api(server: EtcdServer, path: str, body: dict[str, Any], token: str = "") -> Any:
    """POST ``body`` to etcd's JSON auth API at ``path`` (as root when ``token`` is given)."""
    request = urllib.request.Request(
        f"{server.endpoint}/v3/auth/{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": token} if token else {},
    )
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=5) as r:
        return json.loads(r.read())


def b64(text: str) -> str:
    """``text`` in base64, as etcd's JSON API takes keys."""
    return base64.b64encode(text.encode()).decode()


async def test_a_user_whose_roles_miss_the_prefix_is_refused_for_good(prefix: str) -> None:
    # Logged in, but allowed only under /elsewhere/: reading or registering under the
    # prefix is denied, and denied again however often it is tried.
    with etcd_server(auth=("root", PASSWORD)) as server:
        token = auth_api(server, "authenticate", {"name": "root", "password": PASSWORD})["token"]
        perm = {"permType": "READWRITE", "key": b64("/elsewhere/"), "range_end": b64("/elsewhere0")}
        for path, body in [
            ("user/add", {"name": "narrow", "password": "narrow-pw"}),
            ("role/add", {"name": "narrow"}),
            ("role/grant", {"name": "narrow", "perm": perm}),
            ("user/grant", {"user": "narrow", "role": "narrow"}),
        ]:
            auth_api(server, path, body, token)
        url = f"etcd://narrow:narrow-pw@{server.url}{prefix}"
        watcher = instancer(url)
        try:
            event = await next_event(watcher.subscribe(), failing)
            assert isinstance(event.error, EtcdPermissionError), event
            assert sd.is_final(event.error) and "etcd denied reading" in str(event.error)
        finally:
            await watcher.close()
        reg = EtcdRegistrar(config(url), "10.0.0.1:80")
        try:
            with pytest.raises(EtcdPermissionError) as raised:
                await asyncio.wait_for(sd.register_with_backoff(reg), 10)
            assert sd.is_final(raised.value) and "etcd denied registering" in str(raised.value)
            assert not reg.registered
        finally:
            await reg.close()
