"""Runnable kit services: Go kit's tutorial (stringsvc1-3) and its REST example (profilesvc).

Each runs from the repository root as ``python -m examples.<name> --listen HOST:PORT``;
``python -m examples.demo`` runs three stringsvc3 instances behind a proxy.
"""
