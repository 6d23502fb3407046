"""Digest credentials: nodes readable only by their user, and passwords never logged."""

from __future__ import annotations

import asyncio
import io

import pytest
from kazoo.exceptions import NoAuthError
from kazoo.security import make_digest_acl
from kit_zookeeper import ZooKeeperRegistrar
from kit_zookeeper_testlib import Recorder, config, direct_client, instancer, stop_client

from kitcore import sd
from kitcore.errors import PermissionDenied
from kitcore.log import Logger
from kitcore.log.logfmt import LogfmtWriter
from kitcore.sd import Endpointer
from kitcore.testing.sd import event_where as next_event
from kitcore.testing.sd import has_instances as instances
from kitcore.testing.sd import is_error as failing
from kitcore.testing.servers import ZooKeeperServer

USER, PASSWORD = "kit", "pa55-w0rd-secret"


async def test_registered_nodes_belong_to_the_digest_user(
    shared_zk: ZooKeeperServer, path: str
) -> None:
    url = f"zk://{USER}:{PASSWORD}@{shared_zk.hosts}{path}"
    anonymous = direct_client(shared_zk.hosts)
    owner = direct_client(shared_zk.hosts, auth_data=[("digest", f"{USER}:{PASSWORD}")])
    try:
        async with ZooKeeperRegistrar(config(url), "10.0.0.1:80") as reg:
            assert reg.node is not None
            for node in (path, reg.node):
                acl, _ = owner.get_acls(node)
                assert acl == [make_digest_acl(USER, PASSWORD, all=True)]
            with pytest.raises(NoAuthError):
                anonymous.get_acls(reg.node)  # reading an ACL needs READ too
            with pytest.raises(NoAuthError):
                anonymous.get(reg.node)
            with pytest.raises(NoAuthError):
                anonymous.get_children(path)
            watcher = instancer(url)
            try:
                await next_event(watcher.subscribe(), instances("10.0.0.1:80"))
            finally:
                await watcher.close()
    finally:
        stop_client(anonymous)
        stop_client(owner)


async def test_credentials_may_be_given_as_options(shared_zk: ZooKeeperServer, path: str) -> None:
    url = f"zk://{shared_zk.hosts}{path}"
    options = {"username": USER, "password": PASSWORD}
    async with ZooKeeperRegistrar(config(url, **options), "10.0.0.1:80"):
        watcher = instancer(url, **options)
        try:
            await next_event(watcher.subscribe(), instances("10.0.0.1:80"))
        finally:
            await watcher.close()


@pytest.mark.parametrize("auth", ["", "kit:wrong-password@", "nobody:x@"])
async def test_other_identities_get_error_events_that_hide_passwords(
    shared_zk: ZooKeeperServer, path: str, auth: str
) -> None:
    url = f"zk://{USER}:{PASSWORD}@{shared_zk.hosts}{path}"
    logger = Recorder()
    async with ZooKeeperRegistrar(config(url), "10.0.0.1:80"):
        watcher = instancer(f"zk://{auth}{shared_zk.hosts}{path}", logger=logger)
        try:
            event = await next_event(watcher.subscribe(), failing)
            # Final, as the registrar's refusal: a gateway meeting it at start exits.
            assert isinstance(event.error, PermissionDenied) and sd.is_final(event.error)
            assert isinstance(event.error.__cause__, NoAuthError)
        finally:
            await watcher.close()
    assert logger.records
    for secret in (PASSWORD, "wrong-password"):
        assert secret not in logger.text()
        assert secret not in repr(watcher.config) + str(watcher.config)


@pytest.mark.parametrize("auth", ["", "kit:wrong-password@"])
async def test_a_refused_registration_is_final_and_leaves_no_session(
    shared_zk: ZooKeeperServer, path: str, auth: str
) -> None:
    owner = f"zk://{USER}:{PASSWORD}@{shared_zk.hosts}{path}"
    async with ZooKeeperRegistrar(config(owner), "10.0.0.1:80"):
        reg = ZooKeeperRegistrar(config(f"zk://{auth}{shared_zk.hosts}{path}"), "10.0.0.2:80")
        try:
            with pytest.raises(PermissionDenied) as raised:
                await asyncio.wait_for(sd.register_with_backoff(reg), 20)
            assert sd.is_final(raised.value)
            assert "NoAuthError" in str(raised.value)  # the cause is named, never blank
            assert not reg.registered
            assert reg.session is None  # its kazoo session (and threads) were stopped
        finally:
            await reg.close()


async def test_a_failed_registration_logs_the_errors_type(
    shared_zk: ZooKeeperServer, path: str
) -> None:
    # Issue 9, defect 8: kazoo's errors have empty messages; the log line names the type.
    owner = f"zk://{USER}:{PASSWORD}@{shared_zk.hosts}{path}"
    out = io.StringIO()
    logger = Logger(LogfmtWriter(out))
    async with ZooKeeperRegistrar(config(owner), "10.0.0.1:80"):
        watcher = instancer(f"zk://{shared_zk.hosts}{path}", logger=logger)
        endpointer = Endpointer(watcher, lambda instance: (instance, None), logger=logger)
        try:
            # The first event (an error: no READ on the path) answers; the Endpointer logs it.
            assert await asyncio.wait_for(endpointer.endpoints(), 20) == ()
        finally:
            await endpointer.close()
            await watcher.close()
    line = next(x for x in out.getvalue().splitlines() if "service discovery failed" in x)
    assert "NoAuthError" in line.split("err=", 1)[1], line
