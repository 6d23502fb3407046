"""What kit's message transports (kit-nats, kit-amqp) share, so one broker reads like another.

``rpc``: request-reply over a broker: the wire headers, the server's options (Go kit's
before, after, error encoder, error handler, finalizer), the dispatcher that turns one
request message into one reply, and the client's side of the same wire.
``events``: at-least-once event handling: decode, call, retry with backoff, dead-letter,
with optional idempotency (``idempotency``). The broker-specific parts (subscribing,
acking, publishing) live in the plugins; the decisions live here, written once.
"""
