"""stringsvc1: the Go kit tutorial's first service, a string service served over HTTP.

The service is a plain class; the transport is written the explicit Go kit way, with the
tutorial's own request and response types and decode/encode functions, so the
tutorial's transcript holds byte for byte.
"""
