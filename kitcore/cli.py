"""The ``kit`` command line: ``kit plugins``, ``kit new plugin`` and the subcommands plugins add."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from kitcore.plugins import PluginInfo, plugins
from kitcore.remote import call_command, describe_command
from kitcore.serving import load_target


def _scaffold_kinds() -> tuple[str, ...]:
    from kitcore.scaffold import KINDS

    return tuple(KINDS)


def _status(info: PluginInfo) -> str:
    if info.disabled:
        return f"disabled by {info.disabled_by}" if info.disabled_by else "disabled"
    return f"error: {info.error}" if info.error else "ok"


def _registers(info: PluginInfo) -> str:
    parts = [f"{kind}: {', '.join(names)}" for kind, names in sorted(info.registers.items())]
    if info.commands:
        parts.append(f"commands: {', '.join(info.commands)}")
    return "; ".join(parts) or "-"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list for machines.")
@click.option("--all", "show_all", is_flag=True, help="Include the core's built-in parts.")
def plugins_command(as_json: bool, show_all: bool) -> None:
    """List installed plugins: name, version, hooks, what each registers, status."""
    infos = [i for i in plugins().infos if show_all or not i.builtin]
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    if not infos:
        click.echo("no kit plugins installed (see the README: install them from a checkout)")
        return
    rows = [["NAME", "VERSION", "HOOKS", "REGISTERS", "STATUS"]]
    for i in infos:
        hooks = ", ".join(h.removeprefix("kit_register_") for h in i.hooks) or "-"
        rows.append([i.name, i.version or "-", hooks, _registers(i), _status(i)])
    click.echo(_table(rows))


@click.group("new")
def new_command() -> None:
    """Write a new project from a template."""


@new_command.command("plugin")
@click.argument("name")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(list(_scaffold_kinds())),
    help="What the plugin registers.",
)
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to write the kit-NAME directory.",
)
def new_plugin_command(name: str, kind: str, directory: Path) -> None:
    """Write the plugin distribution kit-NAME: pyproject, package, README and tests.

    Its backend works in memory from the start and its tests run kit's conformance
    suite: `pip install -e kit-NAME[test]`, then `pytest` in it and `kit plugins`.
    """
    from kitcore.scaffold import new_plugin

    try:
        root = new_plugin(name, kind, directory)
    except (ValueError, FileExistsError) as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {root}")
    click.echo(f"next: pip install -e '{root}[test]' && (cd {root} && pytest) && kit plugins")


@click.command("asyncapi")
@click.argument("target")
@click.option("--server", "servers", multiple=True, help="NAME=URL of a broker (repeatable).")
def asyncapi_command(target: str, servers: tuple[str, ...]) -> None:
    """Print the AsyncAPI document of TARGET's event handlers (module:attr, a service)."""
    from kitcore.messaging.asyncapi import document
    from kitcore.messaging.events import event_subjects

    obj = load_target(target)
    named: dict[str, str] = {}
    for server in servers:
        name, _, url = server.partition("=")
        if not name or not url:
            raise click.BadParameter(f"want NAME=URL, got {server!r}", param_hint="--server")
        named[name] = url
    if not event_subjects(obj):
        raise click.BadParameter(
            f"{target} has no event handlers: mark methods @method(event='subject')",
            param_hint="TARGET",
        )
    click.echo(json.dumps(document(obj, named), indent=2))


def make_cli() -> click.Group:
    """Build the ``kit`` click group: the core's commands plus every plugin's."""

    @click.group()
    @click.version_option(package_name="kitcore", prog_name="kit")
    def cli() -> None:
        """kit: a toolkit for microservices."""

    cli.add_command(plugins_command)
    cli.add_command(describe_command)
    cli.add_command(call_command)
    cli.add_command(new_command)
    cli.add_command(asyncapi_command)
    plugins().add_commands(cli)
    return cli


def main(argv: list[str] | None = None) -> Any:
    """Run the ``kit`` command."""
    return make_cli().main(args=argv if argv is not None else sys.argv[1:], prog_name="kit")
