"""Helpers for testing against the real RabbitMQ: a connection, and restarting the broker.

``connection()`` connects to the RabbitMQ on 127.0.0.1:5672 as guest (``KIT_AMQP_URL``
overrides), or skips the test (fails under ``KIT_REQUIRE_SERVICES=1``).
``restarted_broker()`` stops RabbitMQ's application (``rabbitmqctl stop_app``) and
starts it again, whatever happens in between.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from typing import Any

from aio_pika.abc import AbstractRobustConnection

from kit_amqp.connection import open_connection
from kitcore.testing.services import binary, unavailable, wait_port

URL = os.environ.get("KIT_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
"""The shared RabbitMQ the tests use."""


async def connection(url: str = URL, **options: Any) -> AbstractRobustConnection:
    """A robust connection to ``url``; skips (or fails when services are required) if none."""
    try:
        return await open_connection(url, **options)
    except Exception as exc:
        unavailable(f"no RabbitMQ at {url}: {exc}")


def _ctl(*args: str) -> None:
    ctl = binary("rabbitmqctl", "/usr/sbin/rabbitmqctl")
    subprocess.run([ctl, *args], check=True, capture_output=True, timeout=120)


@contextlib.contextmanager
def stopped_app() -> Iterator[None]:
    """RabbitMQ's application stopped inside the block, started again on the way out."""
    _ctl("stop_app")
    try:
        yield
    finally:
        _ctl("start_app")
        _ctl("await_startup")
        wait_port("127.0.0.1", 5672, 60)
