"""DnsSrvInstancer: a service's instances from its DNS SRV records, looked up again as they expire.

DNS has no watches, so the instancer polls, but only as often as the records say: the
next lookup happens when the answer's TTL has passed, clamped to ``[min_ttl, max_ttl]``.
A name that does not exist (NXDOMAIN) or has no SRV records is an empty set, not an
error: that is how DNS says a service has no instances. Timeouts and server failures are
errors: subscribers get an error event carrying the last good set, and the lookup is
retried with jittered exponential backoff until it works again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from kit_dnssrv.options import DnsSrvOptions, parse_url
from kitcore.backoff import Backoff
from kitcore.sd.event import Event
from kitcore.sd.instancer import BaseInstancer

_EMPTY = (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer)


class SrvLookupError(Exception):
    """An SRV (or target address) lookup failed: the nameservers timed out or failed.

    The message names the kind of failure only, so that retries failing the same way
    are the same event; the dnspython exception is the ``__cause__``.
    """


def make_resolver(options: DnsSrvOptions) -> dns.asyncresolver.Resolver:
    """An async resolver asking ``options.nameservers``, or the system's if none are given.

    Each try waits a quarter of ``options.timeout``, so a lost UDP query is sent again
    within the lookup's time instead of using all of it.
    """
    if options.nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(host, port) for host, port in options.nameservers
        ]
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.timeout = max(0.05, options.timeout / 4)
    resolver.lifetime = options.timeout
    return resolver


def _negative_ttl(exc: dns.exception.DNSException) -> float | None:
    """The negative-caching TTL of an NXDOMAIN/NODATA answer (RFC 2308), if it has an SOA."""
    # Read from .kwargs: dnspython's accessors for them are untyped.
    found: dict[str, Any] = getattr(exc, "kwargs", None) or {}
    candidates = [*found.get("responses", {}).values(), found.get("response")]
    responses = [r for r in candidates if isinstance(r, dns.message.Message)]
    ttls = [
        min(rrset.ttl, rdata.minimum)
        for response in responses
        for rrset in response.authority
        if rrset.rdtype == dns.rdatatype.SOA
        for rdata in rrset
    ]
    return float(min(ttls)) if ttls else None


def _failure(name: str, exc: BaseException) -> SrvLookupError:
    if isinstance(exc, dns.exception.Timeout):
        reason = "timed out"
    elif isinstance(exc, dns.resolver.NoNameservers):
        reason = "no nameserver answered (SERVFAIL, REFUSED or unreachable)"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    error = SrvLookupError(f"dnssrv lookup of {name} failed: {reason}")
    error.__cause__ = exc
    return error


def _host_port(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class DnsSrvInstancer(BaseInstancer):
    """Instances ``target:port`` from the SRV records of ``options.name``.

    Targets are names without the trailing dot, unresolved (as Go kit's dnssrv does),
    unless ``options.resolve``: then each target's A and AAAA records are looked up with
    the same nameservers and instances are ``address:port``. Priority and weight are
    ignored: the balancer spreads the load. A target of ``.`` ("no service") is skipped.
    ``logger`` is any object with ``log(**kv)``; ``backoff`` paces retries after failures;
    ``resolver`` replaces the one ``make_resolver(options)`` would build.
    """

    def __init__(
        self,
        options: DnsSrvOptions,
        *,
        backoff: Backoff | None = None,
        logger: Any = None,
        resolver: dns.asyncresolver.Resolver | None = None,
    ) -> None:
        super().__init__()
        self.options = options
        self._backoff = backoff or Backoff(base=0.1, cap=min(5.0, options.max_ttl))
        self._logger = logger
        self._resolver = resolver

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        backoff: Backoff | None = None,
        logger: Any = None,
        resolver: dns.asyncresolver.Resolver | None = None,
        **options: Any,
    ) -> DnsSrvInstancer:
        """Open ``dnssrv://name?...``; keyword ``options`` override the URL's query."""
        return cls(parse_url(url, **options), backoff=backoff, logger=logger, resolver=resolver)

    async def lookup(self, resolver: dns.asyncresolver.Resolver) -> tuple[tuple[str, ...], float]:
        """Look the records up once: the instances and the TTL (seconds) of the answer.

        Raises SrvLookupError when the nameservers time out or fail.
        """
        name = self.options.name
        try:
            answer = await resolver.resolve(
                name, "SRV", lifetime=self.options.timeout, search=False
            )
        except _EMPTY as exc:
            ttl = _negative_ttl(exc)
            return (), self.options.min_ttl if ttl is None else ttl
        except Exception as exc:
            raise _failure(name, exc) from exc
        ttl = float(answer.rrset.ttl) if answer.rrset is not None else self.options.min_ttl
        targets: list[tuple[str, int]] = []
        for record in answer:
            if record.target == dns.name.root:
                continue  # RFC 2782: "." means the service is decidedly not available here
            targets.append((record.target.to_text(omit_final_dot=True), int(record.port)))
        if not self.options.resolve:
            return tuple(_host_port(t, p) for t, p in targets), ttl
        return await self._resolve_targets(resolver, targets, ttl)

    async def _resolve_targets(
        self,
        resolver: dns.asyncresolver.Resolver,
        targets: list[tuple[str, int]],
        ttl: float,
    ) -> tuple[tuple[str, ...], float]:
        names = sorted({target for target, _ in targets})
        queries = [(n, rdtype) for n in names for rdtype in ("A", "AAAA")]
        # return_exceptions: a failure must not leave the other queries running unowned.
        results = await asyncio.gather(
            *(
                resolver.resolve(n, rdtype, lifetime=self.options.timeout, search=False)
                for n, rdtype in queries
            ),
            return_exceptions=True,
        )
        addresses: dict[str, list[str]] = {n: [] for n in names}
        for (n, _), result in zip(queries, results, strict=True):
            if isinstance(result, _EMPTY):
                continue  # a target without addresses of this family contributes none
            if isinstance(result, BaseException):
                raise _failure(n, result) from result
            if result.rrset is not None:
                ttl = min(ttl, float(result.rrset.ttl))
            addresses[n].extend(rdata.address for rdata in result)
        instances = tuple(
            _host_port(address, port) for target, port in targets for address in addresses[target]
        )
        return instances, ttl

    async def _watch(self) -> None:
        resolver = self._resolver
        failures = 0
        while True:
            try:
                if resolver is None:
                    resolver = make_resolver(self.options)
                instances, ttl = await self.lookup(resolver)
            except Exception as exc:
                error = exc if isinstance(exc, SrvLookupError) else _failure(self.options.name, exc)
                self._log(level="error", msg="dnssrv lookup failed", srv=self.options.name, err=exc)
                self.update(Event(error=error))
                await asyncio.sleep(self._backoff.delay(failures))
                failures += 1
                continue
            failures = 0
            self.update(Event(instances))
            await asyncio.sleep(self.options.refresh_after(ttl))

    def _log(self, **kv: Any) -> None:
        if self._logger is not None:
            self._logger.log(**kv)
