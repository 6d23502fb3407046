"""kit-otel."""
