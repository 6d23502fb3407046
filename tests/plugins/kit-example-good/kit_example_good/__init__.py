"""A tiny working kit plugin, installed by kit's tests."""
