"""A fake Consul agent: Consul's HTTP API (v1) over a real socket, for tests.

No Consul server can be installed on the project's machines, so kit-consul is tested
against this agent through the real py-consul client; services using kit-consul can
test their discovery the same way (``async with FakeConsul() as agent:`` in the test,
or ``python -m kit_consul.fake`` beside it). It is one node of one datacenter and
answers the requests a discovery client and a registrar make, with the bodies,
status codes and headers Consul's API documents
(https://developer.hashicorp.com/consul/api-docs):

- ``PUT /v1/agent/service/register`` (ID, Name, Tags, Address, Port, Meta, Weights,
  EnableTagOverride, TaggedAddresses, Kind; Check or Checks; ``?replace-existing-checks``)
  and ``PUT /v1/agent/service/deregister/<id>``; ``GET /v1/agent/services``,
  ``GET /v1/agent/service/<id>``, ``GET /v1/agent/checks``, ``GET /v1/agent/self``.
- Checks: TTL, HTTP (polled for real, 2xx passing, 429 warning, else critical) and TCP,
  named ``service:<service-id>`` (``service:<id>:<n>`` for several) unless given an ID,
  critical until they pass unless ``Status`` says otherwise; ``PUT /v1/agent/check/
  {pass,warn,fail}/<id>?note=``, ``PUT /v1/agent/check/update/<id>``,
  ``/v1/agent/check/register`` and ``/deregister/<id>``. A TTL not renewed in time
  turns the check critical ("TTL expired"); ``DeregisterCriticalServiceAfter`` removes
  the service once a check has been critical that long.
- ``GET /v1/health/service/<name>`` (``passing``, repeated ``tag``), ``/v1/health/checks/
  <name>``, ``/v1/catalog/service/<name>`` (``tag``), ``/v1/catalog/services``,
  ``/v1/status/leader``.
- Blocking queries on the health and catalog reads: ``X-Consul-Index`` on every response;
  with ``index`` > 0 the request waits until the result's index is greater than it, or
  ``wait`` passes ("100ms", "5s", "1m"; default 5m, at most 10m, plus up to wait/16 of
  jitter, as Consul), then answers with the current index. The index is per service
  name, moved by any change to its instances or their checks; for a name with no
  instance it is the catalog's index. As in Consul, ``index=0`` (or none) answers at
  once, an index below the current one answers at once, and an index *above* the
  current one (as a client holds after the agent restarted or a snapshot was restored)
  waits for ``wait`` and then returns the smaller current index, which clients must
  treat as a reset, as Consul's blocking-query docs tell them to.
- ACLs when started with ``token=``: that token (``X-Consul-Token``, ``Authorization:
  Bearer`` or ``?token=``) may do everything; any other token is ``403 ACL not found``;
  no token is the anonymous token under a default-deny policy: writes are ``403
  Permission denied: ...``, reads succeed with the results filtered out (empty) and
  ``X-Consul-Results-Filtered-By-ACLs: true``, exactly as Consul.

Departures from Consul, on purpose: ``DeregisterCriticalServiceAfter`` is honoured to
the millisecond (Consul enforces at least 1 minute and reaps every 30 s); the minimum
HTTP/TCP check interval is ``min_check_interval`` (Consul: 1 s, the default here); a
check's output-only change is kept on the agent without moving the index (Consul
defers syncing it to the catalog). Not implemented (404 or 400 saying so): KV,
sessions, prepared queries, Connect, ``filter`` expressions, script/gRPC/Docker/UDP
checks, ``SuccessBeforePassing``/``FailuresBeforeCritical``, other nodes and
datacenters.

Test hooks: ``stop()``/``start()`` close and reopen the listener on the same port (the
agent's state and check timers live on, as behind a network partition);
``start(reset=True)`` comes back as a fresh agent (no services, index back to a low
value); ``fail_with(500)`` answers every request with an error until ``stop_failing()``;
``requests_served`` and ``requests`` count what was asked; ``set_index()`` and
``set_check_status()`` force state.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

JSON = dict[str, Any]
PASSING, WARNING, CRITICAL = "passing", "warning", "critical"
STATUSES = (PASSING, WARNING, CRITICAL)
DEFAULT_WAIT = 300.0  # Consul: 5 minutes
MAX_WAIT = 600.0  # Consul: 10 minutes
FIRST_INDEX = 10  # a fresh agent has already written its node and the consul service
ANONYMOUS = "00000000-0000-0000-0000-000000000002"  # Consul's anonymous token AccessorID
MAX_OUTPUT = 4096  # Consul truncates check output to 4 KB

_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(value: object) -> float:
    """Seconds in a Go duration string ("10s", "1m30s", "250ms"); a number is nanoseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / 1e9
    if not isinstance(value, str):
        raise ValueError(f"time: invalid duration {value!r}")
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    if text == "0":
        return 0.0
    total, pos = 0.0, 0
    for part in _DURATION_PART.finditer(text):
        if part.start() != pos:
            break
        total += float(part.group(1)) * _UNIT[part.group(2)]
        pos = part.end()
    if pos == 0 or pos != len(text):
        raise ValueError(f'time: invalid duration "{value}"')
    return sign * total


def format_duration(seconds: float | None) -> str:
    """A Go-style duration string ("10s", "1m30s", "500ms"), as Consul prints them."""
    if not seconds:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000, 6):g}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{round(secs, 9):g}s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    if minutes:
        return f"{int(minutes)}m{text}"
    return text


class ApiError(Exception):
    """An error answer: HTTP status and Consul's plain-text message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _normalized(raw: object, what: str) -> JSON:
    """Keys lower-cased without underscores: Consul decodes ``Name``, ``name``, ``check_id``
    and ``CheckID`` alike."""
    if not isinstance(raw, dict):
        raise ApiError(400, f"Request decode failed: {what} must be an object")
    return {str(key).lower().replace("_", ""): value for key, value in raw.items()}


def _duration_field(spec: JSON, key: str) -> float | None:
    if spec.get(key) in (None, ""):
        return None
    try:
        return parse_duration(spec[key])
    except ValueError as err:
        raise ApiError(400, f"Request decode failed: {err}") from None


def _bool_param(request: web.Request, name: str) -> bool:
    """Consul's boolean query parameter: present and empty means true."""
    if name not in request.query:
        return False
    value = request.query[name].lower()
    if value in ("", "1", "t", "true"):
        return True
    if value in ("0", "f", "false"):
        return False
    raise ApiError(400, f"Invalid value for ?{name}")


@dataclass
class Service:
    """A service instance registered on the agent."""

    id: str
    name: str
    tags: list[str] = field(default_factory=list)
    address: str = ""
    port: int = 0
    meta: dict[str, str] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=lambda: {"Passing": 1, "Warning": 1})
    enable_tag_override: bool = False
    tagged_addresses: dict[str, Any] = field(default_factory=dict)
    kind: str = ""
    create_index: int = 0
    modify_index: int = 0

    def definition(self) -> tuple[object, ...]:
        """What a re-registration must change for the catalog to change."""
        return (
            self.name,
            tuple(self.tags),
            self.address,
            self.port,
            json.dumps(self.meta, sort_keys=True),
            json.dumps(self.weights, sort_keys=True),
            self.enable_tag_override,
            json.dumps(self.tagged_addresses, sort_keys=True),
            self.kind,
        )


@dataclass
class Check:
    """A health check on the agent: a service's (``service_id``) or the node's."""

    id: str
    name: str
    service_id: str = ""
    type: str = "ttl"  # "ttl", "http" or "tcp": Consul's Type
    status: str = CRITICAL
    notes: str = ""
    output: str = ""
    ttl: float | None = None
    interval: float | None = None
    timeout: float | None = None
    http: str = ""
    method: str = "GET"
    header: dict[str, list[str]] = field(default_factory=dict)
    body: str = ""
    tcp: str = ""
    deregister_after: float | None = None
    create_index: int = 0
    modify_index: int = 0
    ttl_timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    reap_timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    probe: asyncio.Task[None] | None = field(default=None, repr=False)

    def definition(self) -> tuple[object, ...]:
        """What a re-registration must change for the catalog to change."""
        return (
            self.name,
            self.service_id,
            self.type,
            self.notes,
            self.ttl,
            self.interval,
            self.timeout,
            self.http,
            self.method,
            json.dumps(self.header, sort_keys=True),
            self.body,
            self.tcp,
            self.deregister_after,
        )


_UNSUPPORTED_CHECKS = {
    "grpc": "gRPC",
    "dockercontainerid": "Docker",
    "h2ping": "H2PING",
    "udp": "UDP",
    "osservice": "OSService",
    "aliasservice": "alias",
    "aliasnode": "alias",
}


def parse_check(raw: object, default_id: str, default_name: str, service_id: str) -> Check:
    """A Check from a registration's check definition; ApiError(400) if Consul refuses it."""
    spec = _normalized(raw, "check")
    if spec.get("args") or spec.get("scriptargs") or spec.get("script"):
        raise ApiError(
            400,
            "Scripts are disabled on this agent; to enable, configure 'enable_script_checks'"
            " or 'enable_local_script_checks' to true",
        )
    for key, kind in _UNSUPPORTED_CHECKS.items():
        if spec.get(key):
            raise ApiError(400, f"fake-consul: {kind} checks are not implemented")
    check = Check(
        id=str(spec.get("checkid") or spec.get("id") or default_id),
        name=str(spec.get("name") or default_name),
        service_id=str(spec.get("serviceid") or service_id),
        notes=str(spec.get("notes") or ""),
        ttl=_duration_field(spec, "ttl"),
        interval=_duration_field(spec, "interval"),
        timeout=_duration_field(spec, "timeout"),
        http=str(spec.get("http") or ""),
        method=str(spec.get("method") or "GET").upper(),
        header={str(k): [str(v) for v in vs] for k, vs in (spec.get("header") or {}).items()},
        body=str(spec.get("body") or ""),
        tcp=str(spec.get("tcp") or ""),
        deregister_after=_duration_field(spec, "deregistercriticalserviceafter"),
    )
    status = spec.get("status") or CRITICAL
    if status not in STATUSES:
        raise ApiError(400, f"Invalid check status: {status!r}")
    check.status = str(status)
    if check.ttl is not None:
        if check.ttl <= 0:
            raise ApiError(400, "Invalid check: TTL must be > 0 for TTL checks")
        check.type = "ttl"
    elif check.http or check.tcp:
        if not check.interval or check.interval <= 0:
            raise ApiError(400, "Invalid check: Interval must be > 0 for HTTP or TCP checks")
        check.type = "http" if check.http else "tcp"
    else:
        raise ApiError(400, "Invalid check: one of TTL, HTTP or TCP must be given")
    return check


def parse_service(raw: object) -> tuple[Service, list[Check]]:
    """A Service and its checks from a registration body; ApiError(400) if Consul refuses it."""
    spec = _normalized(raw, "service")
    name = str(spec.get("name") or "")
    if not name:
        raise ApiError(400, "Missing service name")
    try:
        service = Service(
            id=str(spec.get("id") or name),
            name=name,
            tags=[str(t) for t in spec.get("tags") or []],
            address=str(spec.get("address") or ""),
            port=int(spec.get("port") or 0),
            meta={str(k): str(v) for k, v in (spec.get("meta") or {}).items()},
            enable_tag_override=bool(spec.get("enabletagoverride")),
            tagged_addresses=dict(spec.get("taggedaddresses") or {}),
            kind=str(spec.get("kind") or ""),
        )
        if spec.get("weights"):
            weights = _normalized(spec["weights"], "weights")
            service.weights = {
                "Passing": int(weights.get("passing", 1)),
                "Warning": int(weights.get("warning", 1)),
            }
        raw_checks = [spec["check"]] if spec.get("check") else []
        raw_checks += list(spec.get("checks") or [])
        checks = []
        for n, raw_check in enumerate(raw_checks, start=1):
            default_id = f"service:{service.id}" + (f":{n}" if len(raw_checks) > 1 else "")
            checks.append(parse_check(raw_check, default_id, f"Service '{name}' check", service.id))
    except (TypeError, ValueError, AttributeError) as err:
        raise ApiError(400, f"Request decode failed: {err}") from None
    return service, checks


class FakeConsul:
    """One fake Consul agent on ``host:port``; an async context manager."""

    def __init__(
        self,
        *,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        node: str = "fake-consul",
        datacenter: str = "dc1",
        min_check_interval: float = 1.0,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.node = node
        self.datacenter = datacenter
        self.node_id = str(uuid.uuid4())
        self.min_check_interval = min_check_interval
        self.services: dict[str, Service] = {}
        self.checks: dict[str, Check] = {}
        self.requests_served = 0
        self.requests: Counter[str] = Counter()
        self._index = FIRST_INDEX
        self._name_index: dict[str, int] = {"consul": FIRST_INDEX}
        self._services_index = FIRST_INDEX
        self._changed = asyncio.Event()
        self._failure: tuple[int, str] | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None

    # --- lifecycle and test hooks ------------------------------------------------------

    @property
    def address(self) -> str:
        """``host:port`` of the HTTP API."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """``http://host:port`` of the HTTP API."""
        return f"http://{self.address}"

    @property
    def index(self) -> int:
        """The current Raft index of the (single-node) catalog."""
        return self._index

    @property
    def listening(self) -> bool:
        """True while the HTTP listener is open."""
        return self._runner is not None

    async def start(self, *, reset: bool = False) -> None:
        """Open the listener (on the same port after a stop); ``reset`` forgets all state."""
        if self._runner is not None:
            raise RuntimeError("fake consul is already listening")
        if reset:
            self._reset()
        app = web.Application(middlewares=[self._front])
        self._add_routes(app)
        # A tiny shutdown_timeout: stop() drops in-flight blocking queries, as a dead agent
        # does (aiohttp reads 0 as "no timeout").
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.01)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port, reuse_address=True).start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Close the listener and every open connection; state and check timers live on."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def close(self) -> None:
        """Stop listening and end every timer, probe and client session."""
        await self.stop()
        for check in self.checks.values():
            self._halt(check)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> FakeConsul:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def fail_with(self, status: int = 500, message: str = "No cluster leader") -> None:
        """Answer every request with ``status`` and ``message`` until ``stop_failing()``."""
        self._failure = (status, message)

    def stop_failing(self) -> None:
        """Answer requests normally again."""
        self._failure = None

    def set_index(self, index: int) -> None:
        """Force the catalog index (e.g. backwards, as after a snapshot restore)."""
        self._index = index
        self._name_index = {name: min(i, index) for name, i in self._name_index.items()}
        self._services_index = min(self._services_index, index)
        self._notify()

    def set_check_status(self, check_id: str, status: str, output: str = "") -> None:
        """Set a check's status as if it had run (KeyError if unknown)."""
        self._set_status(self.checks[check_id], status, output)

    def _reset(self) -> None:
        for check in self.checks.values():
            self._halt(check)
        self.services.clear()
        self.checks.clear()
        self._index = FIRST_INDEX
        self._name_index = {"consul": FIRST_INDEX}
        self._services_index = FIRST_INDEX
        self._notify()

    # --- HTTP plumbing -----------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        put, get = web.put, web.get
        app.add_routes(
            [
                put("/v1/agent/service/register", self._register_service),
                put("/v1/agent/service/deregister/{id:.+}", self._deregister_service),
                get("/v1/agent/services", self._agent_services),
                get("/v1/agent/service/{id:.+}", self._agent_service),
                get("/v1/agent/checks", self._agent_checks),
                get("/v1/agent/self", self._agent_self),
                put("/v1/agent/check/register", self._register_check),
                put("/v1/agent/check/deregister/{id:.+}", self._deregister_check),
                put("/v1/agent/check/pass/{id:.+}", self._ttl_update(PASSING)),
                put("/v1/agent/check/warn/{id:.+}", self._ttl_update(WARNING)),
                put("/v1/agent/check/fail/{id:.+}", self._ttl_update(CRITICAL)),
                put("/v1/agent/check/update/{id:.+}", self._check_update),
                get("/v1/health/service/{name}", self._health_service),
                get("/v1/health/checks/{name}", self._health_checks),
                get("/v1/catalog/service/{name}", self._catalog_service),
                get("/v1/catalog/services", self._catalog_services),
                get("/v1/status/leader", self._status_leader),
            ]
        )

    @web.middleware
    async def _front(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.requests_served += 1
        self.requests[f"{request.method} {request.path}"] += 1
        if self._failure is not None:
            status, message = self._failure
            return web.Response(status=status, text=message)
        try:
            self._anonymous(request)  # an unknown token is refused whatever the path
            return await handler(request)
        except ApiError as err:
            return web.Response(status=err.status, text=err.message)
        except web.HTTPNotFound:
            return web.Response(
                status=404, text=f"fake-consul: not implemented: {request.method} {request.path}"
            )

    def _anonymous(self, request: web.Request) -> bool:
        """True for the anonymous token; ApiError(403) for an unknown one."""
        if self.token is None:
            return False  # ACLs disabled: tokens are ignored
        token = request.headers.get("X-Consul-Token") or request.query.get("token")
        bearer = request.headers.get("Authorization", "")
        if not token and bearer.lower().startswith("bearer "):
            token = bearer[7:].strip()
        if not token:
            return True
        if token != self.token:
            raise ApiError(403, "ACL not found")
        return False

    def _deny_anonymous(self, request: web.Request, permission: str, resource: str) -> None:
        if self._anonymous(request):
            raise ApiError(
                403,
                f"Permission denied: token with AccessorID '{ANONYMOUS}' lacks permission"
                f" '{permission}' on \"{resource}\"",
            )

    def _check_dc(self, request: web.Request) -> None:
        dc = request.query.get("dc")
        if dc and dc != self.datacenter:
            raise ApiError(500, "No path to datacenter")
        if request.query.get("filter"):
            raise ApiError(400, "fake-consul: filter expressions are not implemented")

    async def _body(self, request: web.Request) -> object:
        text = await request.text()
        if not text.strip():
            return {}
        try:
            return json.loads(text)
        except ValueError as err:
            raise ApiError(400, f"Request decode failed: {err}") from None

    def _blocking_params(self, request: web.Request) -> tuple[int, float]:
        index = 0
        if request.query.get("index"):
            try:
                index = int(request.query["index"])
            except ValueError:
                raise ApiError(400, "Invalid index") from None
            if index < 0:
                raise ApiError(400, "Invalid index")
        wait = DEFAULT_WAIT
        if request.query.get("wait"):
            try:
                wait = parse_duration(request.query["wait"])
            except ValueError:
                raise ApiError(400, "Invalid wait time") from None
        if wait <= 0:
            wait = DEFAULT_WAIT
        return index, min(wait, MAX_WAIT)

    async def _blocking(
        self, request: web.Request, view: Callable[[], tuple[int, object, bool]]
    ) -> web.Response:
        """Answer ``view()`` (index, body, filtered), after blocking as Consul does."""
        self._check_dc(request)
        min_index, wait = self._blocking_params(request)
        index, body, filtered = view()
        if min_index > 0 and index <= min_index:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait + random.uniform(0, wait / 16)
            while index <= min_index:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                changed = self._changed
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
                index, body, filtered = view()
        consistency = "leader"
        if "stale" in request.query:
            consistency = "stale"
        elif "consistent" in request.query:
            consistency = "consistent"
        headers = {
            "X-Consul-Index": str(max(index, 1)),
            "X-Consul-KnownLeader": "true",
            "X-Consul-LastContact": "0",
            "X-Consul-Effective-Consistency": consistency,
        }
        if self.token is not None:
            headers["X-Consul-Default-ACL-Policy"] = "deny"
        if filtered:
            headers["X-Consul-Results-Filtered-By-ACLs"] = "true"
        return web.json_response(body, headers=headers)

    # --- state changes -----------------------------------------------------------------

    def _notify(self) -> None:
        """Wake every blocking query so it re-reads its view."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _bump(self, *names: str, services_table: bool = False) -> int:
        """Move the index for a write touching the given service names."""
        self._index += 1
        for name in names:
            self._name_index[name] = self._index
        if services_table:
            self._services_index = self._index
        self._notify()
        return self._index

    def _service_name(self, check: Check) -> str:
        service = self.services.get(check.service_id)
        return service.name if service is not None else ""

    def _names_for(self, check: Check) -> list[str]:
        # A node check is part of every service instance's health on this node.
        if check.service_id:
            return [self._service_name(check)]
        return sorted({s.name for s in self.services.values()} | {"consul"})

    def _set_status(self, check: Check, status: str, output: str) -> None:
        output = output[:MAX_OUTPUT]
        if status == check.status:
            check.output = output  # Consul defers output-only changes: no index move
            return
        check.status, check.output = status, output
        check.modify_index = self._bump(*self._names_for(check))
        self._arm_reaper(check)

    def _arm_reaper(self, check: Check) -> None:
        if check.deregister_after is None or not check.service_id:
            return
        if check.status == CRITICAL and check.reap_timer is None:
            loop = asyncio.get_running_loop()
            check.reap_timer = loop.call_later(check.deregister_after, self._reap, check.id)
        elif check.status != CRITICAL and check.reap_timer is not None:
            check.reap_timer.cancel()
            check.reap_timer = None

    def _reap(self, check_id: str) -> None:
        check = self.checks.get(check_id)
        if check is not None and check.status == CRITICAL:
            check.reap_timer = None
            self._remove_service(check.service_id)

    def _arm_ttl(self, check: Check) -> None:
        if check.ttl is None:
            return
        if check.ttl_timer is not None:
            check.ttl_timer.cancel()
        loop = asyncio.get_running_loop()
        check.ttl_timer = loop.call_later(check.ttl, self._ttl_expired, check.id)

    def _ttl_expired(self, check_id: str) -> None:
        check = self.checks.get(check_id)
        if check is not None:
            check.ttl_timer = None
            self._set_status(check, CRITICAL, "TTL expired")

    def _run(self, check: Check) -> None:
        """Start what keeps a new check's status: its TTL timer, probe and reaper."""
        if check.type == "ttl":
            self._arm_ttl(check)
        else:
            task = asyncio.get_running_loop().create_task(self._probe_loop(check))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            check.probe = task
        self._arm_reaper(check)

    def _halt(self, check: Check) -> None:
        for timer in (check.ttl_timer, check.reap_timer):
            if timer is not None:
                timer.cancel()
        check.ttl_timer = check.reap_timer = None
        if check.probe is not None:
            check.probe.cancel()  # close() awaits it through self._tasks
            check.probe = None

    async def _probe_loop(self, check: Check) -> None:
        interval = max(check.interval or 0.0, self.min_check_interval)
        await asyncio.sleep(random.uniform(0, interval))  # Consul staggers the first run
        while True:
            status, output = await (
                self._probe_http(check) if check.http else self._probe_tcp(check)
            )
            if self.checks.get(check.id) is check:
                self._set_status(check, status, output)
            await asyncio.sleep(interval)

    async def _probe_http(self, check: Check) -> tuple[str, str]:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=check.timeout or 10.0)
        headers = [(k, v) for k, vs in check.header.items() for v in vs]
        try:
            async with self._http.request(
                check.method, check.http, headers=headers, data=check.body or None, timeout=timeout
            ) as response:
                text = await response.text(errors="replace")
                output = (
                    f"HTTP {check.method} {check.http}: {response.status} {response.reason}"
                    f" Output: {text}"
                )
                if 200 <= response.status < 300:
                    return PASSING, output
                return (WARNING if response.status == 429 else CRITICAL), output
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
            return CRITICAL, f'{check.method.title()} "{check.http}": {err or type(err).__name__}'

    async def _probe_tcp(self, check: Check) -> tuple[str, str]:
        host, _, port = check.tcp.rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host.strip("[]"), int(port)), check.timeout or 10.0
            )
        except (OSError, ValueError, asyncio.TimeoutError) as err:
            return CRITICAL, f"dial tcp {check.tcp}: {err or type(err).__name__}"
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return PASSING, f"TCP connect {check.tcp}: Success"

    def _remove_service(self, service_id: str) -> None:
        service = self.services.pop(service_id)
        for check in [c for c in self.checks.values() if c.service_id == service_id]:
            self._halt(check)
            del self.checks[check.id]
        self._bump(service.name, services_table=True)

    # --- agent endpoints ---------------------------------------------------------------

    async def _register_service(self, request: web.Request) -> web.Response:
        service, checks = parse_service(await self._body(request))
        self._deny_anonymous(request, "service:write", service.name)
        self._apply_registration(service, checks, _bool_param(request, "replace-existing-checks"))
        return web.Response()

    def _apply_registration(self, service: Service, checks: list[Check], replace: bool) -> None:
        old = self.services.get(service.id)
        changed = old is None or old.definition() != service.definition()
        names = {service.name} | ({old.name} if old is not None else set())
        stale = [
            c
            for c in self.checks.values()
            if c.service_id == service.id and replace and c.id not in {n.id for n in checks}
        ]
        for check in stale:
            self._halt(check)
            del self.checks[check.id]
            changed = True
        for check in checks:
            previous = self.checks.get(check.id)
            if previous is not None:
                # Consul carries a re-registered check's state over, and restarts its timer.
                changed = changed or previous.definition() != check.definition()
                check.status, check.output = previous.status, previous.output
                check.create_index = previous.create_index
                check.modify_index = previous.modify_index
                self._halt(previous)
            else:
                changed = True
        self.services[service.id] = service
        if old is not None:
            service.create_index, service.modify_index = old.create_index, old.modify_index
        if changed:
            index = self._bump(*names, services_table=True)
            service.modify_index = index
            if old is None:
                service.create_index = index
            for check in checks:
                check.modify_index = index
                if check.id not in self.checks:
                    check.create_index = index
        for check in checks:
            self.checks[check.id] = check
            self._run(check)

    async def _deregister_service(self, request: web.Request) -> web.Response:
        service_id = request.match_info["id"]
        service = self.services.get(service_id)
        self._deny_anonymous(request, "service:write", service.name if service else service_id)
        if service is None:
            raise ApiError(
                404,
                f'Unknown service ID "{service_id}". Ensure that the service ID is passed,'
                " not the service name.",
            )
        self._remove_service(service_id)
        return web.Response()

    async def _register_check(self, request: web.Request) -> web.Response:
        spec = _normalized(await self._body(request), "check")
        name = str(spec.get("name") or "")
        if not name:
            raise ApiError(400, "Missing check name")
        service_id = str(spec.get("serviceid") or "")
        if service_id and service_id not in self.services:
            raise ApiError(400, f'ServiceID "{service_id}" does not exist')
        resource = self.services[service_id].name if service_id else self.node
        self._deny_anonymous(request, "service:write" if service_id else "node:write", resource)
        check = parse_check(spec, name, name, service_id)
        previous = self.checks.get(check.id)
        if previous is not None:
            check.status, check.output = previous.status, previous.output
            check.create_index = previous.create_index
            self._halt(previous)
        self.checks[check.id] = check
        check.modify_index = self._bump(*self._names_for(check))
        if previous is None:
            check.create_index = check.modify_index
        self._run(check)
        return web.Response()

    async def _deregister_check(self, request: web.Request) -> web.Response:
        check = self._known_check(request)
        self._deny_anonymous(request, "service:write", self._service_name(check) or self.node)
        names = self._names_for(check)
        self._halt(check)
        del self.checks[check.id]
        self._bump(*names)
        return web.Response()

    def _known_check(self, request: web.Request) -> Check:
        check_id = request.match_info["id"]
        check = self.checks.get(check_id)
        if check is None:
            raise ApiError(
                404,
                f'Unknown check ID "{check_id}". Ensure that the check ID is passed,'
                " not the check name.",
            )
        return check

    def _ttl_update(self, status: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            check = self._known_check(request)
            self._update_ttl_check(request, check, status, request.query.get("note", ""))
            return web.Response()

        return handler

    async def _check_update(self, request: web.Request) -> web.Response:
        check = self._known_check(request)
        spec = _normalized(await self._body(request), "update")
        status = spec.get("status")
        if status not in STATUSES:
            raise ApiError(400, f"Invalid check status: {status!r}")
        self._update_ttl_check(request, check, str(status), str(spec.get("output") or ""))
        return web.Response()

    def _update_ttl_check(self, request: web.Request, check: Check, status: str, note: str) -> None:
        self._deny_anonymous(request, "service:write", self._service_name(check) or self.node)
        if check.type != "ttl":
            raise ApiError(500, f'CheckID "{check.id}" does not have associated TTL')
        self._arm_ttl(check)
        self._set_status(check, status, note)

    async def _agent_services(self, request: web.Request) -> web.Response:
        if self._anonymous(request):
            return self._filtered({})
        return web.json_response({s.id: self._agent_service_json(s) for s in self._sorted()})

    async def _agent_service(self, request: web.Request) -> web.Response:
        service = self.services.get(request.match_info["id"])
        if service is None or self._anonymous(request):
            # Consul hides what the token cannot read behind the same 404.
            raise ApiError(404, f"unknown service ID: {request.match_info['id']}")
        body = self._agent_service_json(service)
        body["ContentHash"] = f"{hash(service.definition()) & (2**64 - 1):016x}"
        return web.json_response(body)

    async def _agent_checks(self, request: web.Request) -> web.Response:
        if self._anonymous(request):
            return self._filtered({})
        ordered = sorted(self.checks.values(), key=lambda c: c.id)
        return web.json_response({c.id: self._check_json(c) for c in ordered})

    async def _agent_self(self, request: web.Request) -> web.Response:
        self._deny_anonymous(request, "agent:read", self.node)
        return web.json_response(
            {
                "Config": {
                    "Datacenter": self.datacenter,
                    "NodeName": self.node,
                    "NodeID": self.node_id,
                    "Server": True,
                    "Version": "1.15.4",
                    "Revision": "fake-consul",
                },
                "Member": {"Name": self.node, "Addr": "127.0.0.1", "Port": 8301, "Status": 1},
                "Meta": {"consul-network-segment": ""},
            }
        )

    async def _status_leader(self, request: web.Request) -> web.Response:
        return web.json_response("127.0.0.1:8300")

    @staticmethod
    def _filtered(body: object) -> web.Response:
        return web.json_response(body, headers={"X-Consul-Results-Filtered-By-ACLs": "true"})

    # --- health and catalog reads ------------------------------------------------------

    def _sorted(self) -> list[Service]:
        return sorted(self.services.values(), key=lambda s: s.id)

    def _consul_service(self) -> Service:
        """The agent's own ``consul`` service, which every server node carries."""
        first = FIRST_INDEX - 1
        return Service(
            id="consul", name="consul", port=8300, create_index=first, modify_index=first
        )

    def _instances(self, name: str, tags: list[str]) -> list[Service]:
        found = [self._consul_service()] if name == "consul" else []
        found += [s for s in self._sorted() if s.name == name]
        wanted = {t.lower() for t in tags}
        return [s for s in found if wanted <= {t.lower() for t in s.tags}]

    def _view_index(self, name: str) -> int:
        if name == "consul" or any(s.name == name for s in self.services.values()):
            return self._name_index.get(name, self._index)
        return self._index  # no such service: the catalog's index, as Consul

    def _checks_of(self, service: Service) -> list[Check]:
        node_checks = sorted(
            (c for c in self.checks.values() if not c.service_id), key=lambda c: c.id
        )
        own = sorted(
            (c for c in self.checks.values() if c.service_id == service.id), key=lambda c: c.id
        )
        return node_checks + own

    async def _health_service(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        passing = _bool_param(request, "passing")
        tags = request.query.getall("tag", [])

        def view() -> tuple[int, object, bool]:
            entries = []
            for service in self._instances(name, tags):
                checks = [
                    self._serf_health_json(),
                    *map(self._check_json, self._checks_of(service)),
                ]
                if passing and any(c["Status"] != PASSING for c in checks):
                    continue
                entries.append(
                    {
                        "Node": self._node_json(),
                        "Service": self._health_service_json(service),
                        "Checks": checks,
                    }
                )
            if self._anonymous(request):
                return self._view_index(name), [], bool(entries)
            return self._view_index(name), entries, False

        return await self._blocking(request, view)

    async def _health_checks(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]

        def view() -> tuple[int, object, bool]:
            checks = [
                self._check_json(c)
                for s in self._instances(name, [])
                for c in self._checks_of(s)
                if c.service_id
            ]
            if self._anonymous(request):
                return self._view_index(name), [], bool(checks)
            return self._view_index(name), checks, False

        return await self._blocking(request, view)

    async def _catalog_service(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        tags = request.query.getall("tag", [])

        def view() -> tuple[int, object, bool]:
            entries = [self._catalog_entry_json(s) for s in self._instances(name, tags)]
            if self._anonymous(request):
                return self._view_index(name), [], bool(entries)
            return self._view_index(name), entries, False

        return await self._blocking(request, view)

    async def _catalog_services(self, request: web.Request) -> web.Response:
        def view() -> tuple[int, object, bool]:
            listing: dict[str, set[str]] = {"consul": set()}
            for service in self.services.values():
                listing.setdefault(service.name, set()).update(service.tags)
            body = {name: sorted(tags) for name, tags in sorted(listing.items())}
            if self._anonymous(request):
                return self._services_index, {}, True
            return self._services_index, body, False

        return await self._blocking(request, view)

    # --- response bodies, in Consul's shapes ---------------------------------------------

    def _node_json(self) -> JSON:
        return {
            "ID": self.node_id,
            "Node": self.node,
            "Address": "127.0.0.1",
            "Datacenter": self.datacenter,
            "TaggedAddresses": {
                "lan": "127.0.0.1",
                "lan_ipv4": "127.0.0.1",
                "wan": "127.0.0.1",
                "wan_ipv4": "127.0.0.1",
            },
            "Meta": {"consul-network-segment": ""},
            "CreateIndex": FIRST_INDEX - 1,
            "ModifyIndex": FIRST_INDEX - 1,
        }

    def _health_service_json(self, s: Service) -> JSON:
        body: JSON = {
            "ID": s.id,
            "Service": s.name,
            "Tags": list(s.tags),
            "Address": s.address,
            "Meta": dict(s.meta),
            "Port": s.port,
            "Weights": dict(s.weights),
            "EnableTagOverride": s.enable_tag_override,
            "Proxy": {"Mode": "", "MeshGateway": {}, "Expose": {}},
            "Connect": {},
            "PeerName": "",
            "CreateIndex": s.create_index,
            "ModifyIndex": s.modify_index,
        }
        if s.kind:
            body["Kind"] = s.kind
        if s.tagged_addresses:
            body["TaggedAddresses"] = s.tagged_addresses
        return body

    def _agent_service_json(self, s: Service) -> JSON:
        body: JSON = {
            "ID": s.id,
            "Service": s.name,
            "Tags": list(s.tags),
            "Meta": dict(s.meta),
            "Port": s.port,
            "Address": s.address,
            "Weights": dict(s.weights),
            "EnableTagOverride": s.enable_tag_override,
            "Datacenter": self.datacenter,
        }
        if s.kind:
            body["Kind"] = s.kind
        if s.tagged_addresses:
            body["TaggedAddresses"] = s.tagged_addresses
        return body

    def _catalog_entry_json(self, s: Service) -> JSON:
        node = self._node_json()
        return {
            "ID": node["ID"],
            "Node": node["Node"],
            "Address": node["Address"],
            "Datacenter": node["Datacenter"],
            "TaggedAddresses": node["TaggedAddresses"],
            "NodeMeta": node["Meta"],
            "ServiceKind": s.kind,
            "ServiceID": s.id,
            "ServiceName": s.name,
            "ServiceTags": list(s.tags),
            "ServiceAddress": s.address,
            "ServiceTaggedAddresses": s.tagged_addresses or None,
            "ServiceWeights": dict(s.weights),
            "ServiceMeta": dict(s.meta),
            "ServicePort": s.port,
            "ServiceSocketPath": "",
            "ServiceEnableTagOverride": s.enable_tag_override,
            "ServiceProxy": {"Mode": "", "MeshGateway": {}, "Expose": {}},
            "ServiceConnect": {},
            "ServicePeerName": "",
            "CreateIndex": s.create_index,
            "ModifyIndex": s.modify_index,
        }

    def _check_json(self, c: Check) -> JSON:
        service = self.services.get(c.service_id)
        return {
            "Node": self.node,
            "CheckID": c.id,
            "Name": c.name,
            "Status": c.status,
            "Notes": c.notes,
            "Output": c.output,
            "ServiceID": c.service_id,
            "ServiceName": service.name if service else "",
            "ServiceTags": list(service.tags) if service else [],
            "Type": c.type,
            "Interval": format_duration(c.interval) if c.interval else "",
            "Timeout": format_duration(c.timeout) if c.timeout else "",
            "ExposedPort": 0,
            "Definition": {
                "HTTP": c.http,
                "Header": c.header or None,
                "Method": c.method if c.http else "",
                "Body": c.body,
                "TCP": c.tcp,
                "Interval": format_duration(c.interval),
                "Timeout": format_duration(c.timeout),
                "DeregisterCriticalServiceAfter": format_duration(c.deregister_after),
            },
            "CreateIndex": c.create_index,
            "ModifyIndex": c.modify_index,
        }

    def _serf_health_json(self) -> JSON:
        return {
            "Node": self.node,
            "CheckID": "serfHealth",
            "Name": "Serf Health Status",
            "Status": PASSING,
            "Notes": "",
            "Output": "Agent alive and reachable",
            "ServiceID": "",
            "ServiceName": "",
            "ServiceTags": [],
            "Type": "",
            "Interval": "",
            "Timeout": "",
            "ExposedPort": 0,
            "Definition": {},
            "CreateIndex": FIRST_INDEX - 1,
            "ModifyIndex": FIRST_INDEX - 1,
        }


async def serve(host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> None:
    """Run one fake agent until SIGTERM or SIGINT; its port is printed first, on one line."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with FakeConsul(host=host, port=port, token=token) as agent:
        print(agent.port, flush=True)
        await stop.wait()


@contextlib.contextmanager
def agent_process(*args: str) -> Iterator[int]:
    """Run ``python -m kit_consul.fake *args`` in a process of its own; yield its port.

    For tests whose own event loop blocks at times (waiting on subprocesses, say), which
    would stall an agent served from that loop. The process is stopped afterwards and
    must exit cleanly.
    """
    agent = subprocess.Popen(
        [sys.executable, "-m", "kit_consul.fake", *args], stdout=subprocess.PIPE, text=True
    )
    assert agent.stdout is not None
    try:
        yield int(agent.stdout.readline())
    finally:
        agent.terminate()
        code = agent.wait(timeout=10)
        agent.stdout.close()
    if code != 0:
        raise RuntimeError(f"the fake Consul agent exited with status {code}")


def main(argv: list[str] | None = None) -> None:
    """``python -m kit_consul.fake [--host H] [--port P] [--token T]``: a fake agent to run
    beside tests in other processes (the one a test's own event loop would block)."""
    parser = argparse.ArgumentParser(prog="python -m kit_consul.fake", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--token", default=None, help="require this ACL token")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.token))


if __name__ == "__main__":
    main()
