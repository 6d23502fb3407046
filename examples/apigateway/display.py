"""Discovery URLs as they may be logged: no credentials, no options."""

from __future__ import annotations

from kitcore.sd import url as sd_url


def public_url(url: str) -> str:
    """``scheme://hosts/path`` of a discovery URL: user, password and query left out.

    Options may hold secrets too (Consul's ``token=``), so none is shown.
    """
    try:
        parsed = sd_url.parse(url, default_port=0)
    except ValueError:
        return url.split("://", 1)[0] + "://..."
    hosts = ",".join(f"{h}:{p}" if p else h for h, p in parsed.hosts)
    return f"{parsed.scheme}://{hosts}{parsed.path}"
