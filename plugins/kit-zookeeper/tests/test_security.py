"""Digest credentials: nodes readable only by their user, and passwords never logged."""

from __future__ import annotations

import pytest
from kazoo.exceptions import NoAuthError
from kazoo.security import make_digest_acl
from kit_zookeeper import ZooKeeperRegistrar
from kit_zookeeper_testlib import Recorder, config, direct_client, instancer, stop_client

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
            assert isinstance(event.error, NoAuthError)
        finally:
            await watcher.close()
    assert logger.records
    for secret in (PASSWORD, "wrong-password"):
        assert secret not in logger.text()
        assert secret not in repr(watcher.config) + str(watcher.config)
