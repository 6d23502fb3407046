"""nats-py's failures as kit's typed errors, so retries and breakers read them right.

No responders and a closed or unreachable server are ``Unavailable`` (another instance
or a later try may work); a request with no reply in time is ``DeadlineExceeded``; a
payload over the server's limit is ``InvalidArgument`` (the caller's doing).
"""

from __future__ import annotations

import nats.errors

from kitcore.errors import DeadlineExceeded, InvalidArgument, KitError, Unavailable


def from_nats(error: BaseException, what: str) -> KitError:
    """The kit error for a nats-py failure while doing ``what``."""
    if isinstance(error, nats.errors.NoRespondersError):
        return Unavailable(f"{what}: no responders")
    if isinstance(error, nats.errors.TimeoutError):
        return DeadlineExceeded(f"{what}: no reply in time")
    if isinstance(error, nats.errors.MaxPayloadError):
        return InvalidArgument(f"{what}: payload over the server's max_payload")
    return Unavailable(f"{what}: {type(error).__name__}: {error}")


FAILURES = (nats.errors.Error, OSError)
"""What a nats-py call may raise that ``from_nats`` maps."""
