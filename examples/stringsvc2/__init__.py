"""stringsvc2: stringsvc1 plus logging and instrumenting middlewares, as in the tutorial.

The middlewares wrap the service itself (same methods, same signatures), so they see
business values: the logging one writes ``method=uppercase input="hello, world"
output="HELLO, WORLD" err=null took=...``, the instrumenting one records the tutorial's
Prometheus metrics through kit-prometheus, served at ``GET /metrics``:
``my_group_string_service_request_count_total`` and
``my_group_string_service_request_latency_microseconds`` (by method and error
``"true"``/``"false"``), and ``my_group_string_service_count_result``.
"""
