"""Registers an ``example://`` discovery backend and a ``kit hello`` command."""

from __future__ import annotations

from typing import Any

import click

from kitcore import hookimpl
from kitcore.sd import FixedInstancer


def example_instancer(url: str, **options: Any) -> FixedInstancer:
    """Every ``example://a,b`` URL lists its comma-separated instances."""
    return FixedInstancer(url.split("://", 1)[1].split(","))


@hookimpl
def kit_register_discovery(register: Any) -> None:
    """Register ``example://``."""
    register("example", example_instancer)


@hookimpl
def kit_register_commands(cli: click.Group) -> None:
    """Add ``kit hello``."""

    @cli.command()
    @click.argument("name", default="world")
    def hello(name: str) -> None:
        """Say hello."""
        click.echo(f"hello, {name}")
