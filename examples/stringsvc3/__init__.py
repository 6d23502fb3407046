"""stringsvc3: stringsvc2 plus ``--proxy``: uppercase goes to other instances.

As the tutorial: a static instancer lists the instances, an Endpointer builds one client
endpoint per instance (each behind a circuit breaker and a rate limiter), RoundRobin
picks one per call and Retry tries up to 3 of them within 250 ms.
"""
