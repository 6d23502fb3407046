"""Health endpoints for orchestrators and load balancers: ``/healthz`` and ``/readyz``.

Liveness says the process serves requests; readiness says it should be sent traffic.
Ready goes false while the App drains (a shutdown began) and while any dependency check
fails, so a balancer stops sending new requests before the instance goes away.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping

import msgspec

from kit_http.app import App
from kit_http.message import Response
from kit_http.operational import serve_get

Check = Callable[[], "bool | Awaitable[bool]"]
"""A dependency check: true when the dependency is usable; raising counts as false."""

_encode = msgspec.json.Encoder().encode


def add_health(
    app: App,
    checks: Mapping[str, Check] | None = None,
    *,
    live: str = "/healthz",
    ready: str = "/readyz",
    timeout: float = 1.0,
) -> App:
    """Serve liveness at ``live`` and readiness at ``ready`` on ``app``; returns app.

    ``GET ready`` runs every check at once, each within ``timeout`` seconds, and answers
    200 ``{"status": "ready", "checks": {...}}``, or 503 ``"unready"`` naming each failed
    check and why, or 503 ``"draining"`` once the app drains.
    """
    named = dict(checks or {})

    async def liveness() -> Response:
        return Response(_encode({"status": "ok"}))

    async def readiness() -> Response:
        if app.draining:
            return Response(_encode({"status": "draining", "checks": {}}), status=503)
        results = await asyncio.gather(*(_run(c, timeout) for c in named.values()))
        report = dict(zip(named, results, strict=True))
        ok = all(r == "ok" for r in results)
        body = {"status": "ready" if ok else "unready", "checks": report}
        return Response(_encode(body), status=200 if ok else 503)

    serve_get(app, live, liveness)
    serve_get(app, ready, readiness)
    return app


async def _run(check: Check, timeout: float) -> str:
    try:
        result = check()
        if inspect.isawaitable(result):
            result = await asyncio.wait_for(result, timeout)
    except (asyncio.TimeoutError, TimeoutError):
        return f"failed: no answer in {timeout:g}s"
    except Exception as exc:
        return f"failed: {type(exc).__name__}: {exc}"
    return "ok" if result else "failed"
