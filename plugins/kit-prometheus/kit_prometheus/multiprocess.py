"""Multiprocess mode: several worker processes, one merged ``/metrics``.

prometheus-client decides at import time, from ``PROMETHEUS_MULTIPROC_DIR``, whether
metric values live in process memory or in per-process files in that directory. A
server running several workers (uvicorn ``--workers``, gunicorn) sets the variable
before the workers start; each worker records into its files, and whichever worker
answers a scrape merges every file with a ``MultiProcessCollector``.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

ENV = "PROMETHEUS_MULTIPROC_DIR"
"""The environment variable naming the directory of the per-process metric files."""


def multiprocess_dir() -> str | None:
    """Return the multiprocess directory when multiprocess mode is on, else None.

    Raises RuntimeError when the variable is set but prometheus-client was imported
    before it was (values would silently stay per process), or when the directory is
    missing, instead of exposing wrong numbers later.
    """
    path = os.environ.get(ENV) or os.environ.get(ENV.lower())
    if not path:
        return None
    if values.ValueClass is values.MutexValue:
        raise RuntimeError(
            f"{ENV} is set to {path!r}, but prometheus_client was imported before it was "
            "set, so this process keeps its metrics in memory; set it in the environment "
            "before the process starts"
        )
    if not os.path.isdir(path):
        raise RuntimeError(f"{ENV} is {path!r}, which is not a directory; create it first")
    return path


def multiprocess_registry(path: str | None = None) -> CollectorRegistry:
    """Return a registry exposing the merged metrics of every process writing to ``path``.

    ``path`` defaults to ``PROMETHEUS_MULTIPROC_DIR``. Reading it needs no multiprocess
    mode in this process, so a supervisor may serve the workers' metrics too.
    """
    path = path or os.environ.get(ENV) or os.environ.get(ENV.lower())
    if not path:
        raise ValueError(f"no multiprocess directory: pass path or set {ENV}")
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return registry


def mark_dead(pid: int, path: str) -> None:
    """Drop the live gauges (``live*`` modes) of the exited process ``pid`` from ``path``."""
    mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
