"""Reusable conformance suites for plugin authors."""
