"""aio-pika's failures as kit's typed errors, so retries and breakers read them right.

A closed or unreachable broker, a closed channel and an unroutable request are
``Unavailable`` (another instance or a later try may work).
"""

from __future__ import annotations

import aiormq.exceptions

from kitcore.errors import KitError, Unavailable


def from_amqp(error: BaseException, what: str) -> KitError:
    """The kit error for an aio-pika failure while doing ``what``."""
    return Unavailable(f"{what}: {type(error).__name__}: {error}")


FAILURES = (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError, OSError)
"""What an aio-pika call may raise that ``from_amqp`` maps."""
