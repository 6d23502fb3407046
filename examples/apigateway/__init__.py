"""apigateway: Go kit's API gateway example, over real service discovery.

The gateway follows each service's instances through the discovery URL it is given
(``etcd://``, ``zk://``, ``consul://``...) and serves them all under one HTTP address:
``POST /stringsvc/uppercase`` goes through Endpointer -> RoundRobin -> Retry to one
stringsvc instance. ``python -m examples.apigateway.instance`` runs a stringsvc instance
that registers itself at the same URL for as long as it serves.
"""
