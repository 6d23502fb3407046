"""addsvc: Go kit's addsvc example in Python, served on HTTP, gRPC and JSON-RPC at once.

The layers are Go kit's: ``service`` (the business logic, with its logging and
instrumenting middlewares), ``endpoints`` (one Endpoint per method, behind a limiter, a
breaker, logging and a duration metric: one set shared by every transport), and one
module per transport (``transport_http``, ``transport_grpc`` with the messages of
``pb/addsvc.proto``, ``transport_jsonrpc``). ``python -m examples.addsvc`` serves; ``python -m
examples.addsvc.cli`` is addcli. Both interoperate with Go kit's own binaries.
"""
