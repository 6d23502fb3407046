"""stringsvc3: stringsvc2 plus ``--proxy``: uppercase goes to other instances.

As the tutorial: a static instancer lists the instances, an Endpointer builds one client
endpoint per instance, each behind its own circuit breaker (kit-pybreaker: opens after
``--breaker-fail-max`` failures in a row, tries again after ``--breaker-reset``
seconds) and erroring rate limiter (kit-ratelimit, 100 calls a second), RoundRobin
picks one per call and Retry tries up to 3 of them within 250 ms. Breaker state
changes are logged (``breaker=host:port ... state=open previous=closed``) and served
with the other metrics at ``GET /metrics`` (``kit_circuit_breaker_state``).
"""
