"""stringsvc2: stringsvc1 plus logging and instrumenting middlewares, as in the tutorial.

The middlewares wrap the service itself (same methods, same signatures), so they see
business values: the logging one writes ``method=uppercase input="hello, world"
output="HELLO, WORLD" err=null took=...``, the instrumenting one counts requests and
records latencies, served at ``GET /metrics``.
"""
