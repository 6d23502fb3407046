"""``amqp://user:pass@host:port/queue`` -> the broker URL and the queue name.

The path's first segment is the queue, not the vhost as in aio-pika's own URLs; a
vhost other than ``/`` goes in the ``vhost`` query parameter.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, unquote, urlsplit

DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672/"
"""Where a URL with no host points."""


def split(url: str) -> tuple[str, str]:
    """``"amqp://g:g@h:5672/rpc"`` or ``"g:g@h:5672/rpc"`` -> ``("amqp://g:g@h:5672/", "rpc")``."""
    if "://" not in url:
        url = f"amqp://{url}"
    parts = urlsplit(url)
    queue = unquote(parts.path.strip("/"))
    vhost = parse_qs(parts.query).get("vhost", ["/"])[0]
    if not parts.netloc:
        return DEFAULT_BROKER, queue
    scheme = "amqps" if parts.scheme == "amqps" else "amqp"
    path = "/" if vhost == "/" else "/" + quote(vhost, safe="")
    return f"{scheme}://{parts.netloc}{path}", queue
