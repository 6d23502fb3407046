"""kit-opentracing."""
