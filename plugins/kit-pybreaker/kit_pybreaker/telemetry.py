"""StateTelemetry: a pybreaker listener logging and counting state changes through kit.

Operators want to know when a circuit opens (a dependency is down) and when it closes
again; a log line says so at once, a counter shows how often, and a gauge shows where
every breaker stands now.
"""

from __future__ import annotations

from typing import Final

import pybreaker

from kitcore.circuitbreaker import CLOSED, HALF_OPEN, OPEN
from kitcore.log import Logger
from kitcore.metrics import Provider

STATES: Final[dict[str, str]] = {
    pybreaker.STATE_CLOSED: CLOSED,
    pybreaker.STATE_OPEN: OPEN,
    pybreaker.STATE_HALF_OPEN: HALF_OPEN,
}
"""pybreaker's state names -> kit's (``"half-open"`` becomes ``"half_open"``)."""

STATE_VALUES: Final[dict[str, float]] = {CLOSED: 0.0, HALF_OPEN: 1.0, OPEN: 2.0}
"""The state gauge's value for each kit state: 0 closed, 1 half-open, 2 open."""


class StateTelemetry(pybreaker.CircuitBreakerListener):
    """Logs every state change of one breaker and records it in kit metrics.

    Metrics (created once in ``metrics``; several breakers share them by label):
    ``{namespace}_circuit_breaker_transitions_total`` (counter; labels breaker,
    state: the new state) and ``{namespace}_circuit_breaker_state`` (gauge; label
    breaker; see :data:`STATE_VALUES`). Opening logs at warn, the others at info.
    """

    def __init__(
        self, name: str, logger: Logger, metrics: Provider, namespace: str = "kit"
    ) -> None:
        self.name = name
        self._logger = logger.with_(breaker=name)
        transitions = metrics.counter(
            f"{namespace}_circuit_breaker_transitions_total",
            "Circuit breaker state changes, by breaker and new state.",
            ("breaker", "state"),
        )
        self._transitions = {
            state: transitions.with_labels(breaker=name, state=state) for state in STATE_VALUES
        }
        self._gauge = metrics.gauge(
            f"{namespace}_circuit_breaker_state",
            "Circuit breaker state, by breaker: 0 closed, 1 half-open, 2 open.",
            ("breaker",),
        ).with_labels(breaker=name)

    def show(self, state: str) -> None:
        """Set the state gauge to ``state`` (a kit state name) without counting a change."""
        self._gauge.set(STATE_VALUES[state])

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        """Log and count a change; pybreaker also calls this when re-entering the same state."""
        new = STATES[new_state.name]
        old = STATES[old_state.name] if old_state is not None else None
        if new == old:
            # A late failure re-opening an open circuit: its timer restarts, its state does not.
            return
        self._transitions[new].add()
        self._gauge.set(STATE_VALUES[new])
        log = self._logger.warn if new == OPEN else self._logger.info
        log(msg="circuit breaker state changed", state=new, previous=old)
