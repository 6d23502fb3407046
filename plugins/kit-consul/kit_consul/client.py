"""The py-consul asyncio client, built from AgentOptions, and the errors kit reports for it."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import consul.aio  # type: ignore[import-untyped]

from kit_consul.options import AgentOptions
from kitcore.errors import PermissionDenied, Unauthenticated


class ConsulError(Exception):
    """A request to the Consul agent failed; the message names the agent, never the token.

    Messages depend only on what failed, so repeated failures of the same kind compare
    equal as events; the original exception is the ``__cause__``.
    """


def describe(exc: BaseException) -> str:
    """A short, stable account of ``exc`` (py-consul's status and body, or the I/O error)."""
    text = str(exc).strip()
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


class ConsulAuthError(ConsulError, Unauthenticated):
    """Consul does not know the ACL token (403 "ACL not found", 401): it is refused again."""


class ConsulPermissionError(ConsulError, PermissionDenied):
    """Consul's ACLs deny the token this operation (403 "Permission denied")."""


def _kind(exc: BaseException) -> type[ConsulError]:
    """The ConsulError class for ``exc``: a refusal of the token is final (``sd.is_final``)."""
    if not isinstance(exc, consul.ConsulException):
        return ConsulError  # I/O errors and timeouts: the agent may answer later
    if isinstance(exc, consul.ACLDisabled):
        return ConsulAuthError  # py-consul's name for any 401
    # Older agents answer ACL refusals as 500 "rpc error making call: ...": read the text.
    text = str(exc)
    if "ACL not found" in text:
        return ConsulAuthError
    if isinstance(exc, consul.ACLPermissionDenied) or "Permission denied" in text:
        return ConsulPermissionError
    return ConsulError


def consul_error(agent: AgentOptions, what: str, exc: BaseException) -> ConsulError:
    """A ConsulError for ``what`` (e.g. "watching stringsvc") failing at ``agent``.

    ACL refusals are ConsulAuthError or ConsulPermissionError, kit's ``Unauthenticated``
    and ``PermissionDenied``: ``sd.register_with_backoff`` stops at them, and a gateway
    following the Instancer exits, instead of retrying a token that will be refused again.
    """
    error = _kind(exc)(f"consul agent {agent.address}: {what} failed: {describe(exc)}")
    error.__cause__ = exc
    return error


def make_client(agent: AgentOptions, *, session_timeout: float) -> Any:
    """A ``consul.aio.Consul`` for ``agent``; call it on the event loop, close it with ``close()``.

    ``session_timeout`` bounds every request of the underlying aiohttp session: it must
    exceed the longest blocking query.
    """
    verify: bool | str = agent.ca if (agent.verify and agent.ca) else agent.verify
    if agent.scheme == "http":
        # py-consul would load the system's CA store (tens of ms) for a plain-HTTP agent.
        verify = False
    cert: str | tuple[str, str] | None = agent.cert
    if agent.cert and agent.key:
        cert = (agent.cert, agent.key)
    # py-consul builds its aiohttp connector with arguments aiohttp deprecates; not ours to fix.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = consul.aio.Consul(
            host=agent.host,
            port=agent.port,
            scheme=agent.scheme,
            dc=agent.dc,
            verify=verify,
            cert=cert,
            connections_timeout=session_timeout,
        )
    # py-consul prefers CONSUL_HTTP_TOKEN over an explicit token; kit's order is the reverse,
    # and the environment was already consulted when the options were parsed.
    client.token = agent.token
    return client
