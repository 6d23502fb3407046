"""A kit plugin whose plugin module cannot be imported."""
