"""``nats://host:port/subject`` -> the server URL and the subject, one parser for every entry."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_SERVER = "nats://127.0.0.1:4222"
"""Where a URL with no host points."""


def split(url: str) -> tuple[str, str]:
    """``"nats://h:4222/svc"`` (or ``"h:4222/svc"``) -> ``("nats://h:4222", "svc")``.

    The subject is the path with ``/`` as NATS's ``.``: ``/a/b`` is ``a.b``.
    """
    if "://" not in url:
        url = f"nats://{url}"
    parts = urlsplit(url)
    scheme = "tls" if parts.scheme in ("tls", "nats+tls") else "nats"
    server = f"{scheme}://{parts.netloc}" if parts.netloc else DEFAULT_SERVER
    subject = parts.path.strip("/").replace("/", ".")
    return server, subject
