"""``recgraft plugins``: what is installed, and where it came from."""

from __future__ import annotations

import json

import click

from recgraft.plugin_manager import load_plugins


@click.group()
def plugins() -> None:
    """List the plugins and the components they provide."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--requirements",
    is_flag=True,
    help="Print installed third-party plugin distributions as name==version.",
)
def list_plugins(as_json: bool, requirements: bool) -> None:
    """Each component with its kind, plugin, source, version and status; failed plugins too."""
    system = load_plugins()
    if requirements:
        pins = sorted(
            {f"{p.distribution}=={p.version}" for p in system.plugins if p.distribution and p.version}
        )
        if as_json:
            click.echo(json.dumps({"requirements": pins}))
        else:
            for pin in pins:
                click.echo(pin)
        return
    components = [
        {
            "name": e.name,
            "kind": e.kind,
            "plugin": e.plugin,
            "source": e.source,
            "version": e.version,
            "status": e.status,
        }
        for e in system.catalog.entries()
    ]
    if as_json:
        payload = {
            "components": components,
            "plugins": [p.as_dict() for p in system.plugins],
            "settings": str(system.settings.source) if system.settings.source else None,
        }
        click.echo(json.dumps(payload, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("kind", "name", "plugin", "source", "version", "status")
    for c in components:
        table.add_row(c["kind"], c["name"], c["plugin"], c["source"], c["version"] or "", c["status"])
    console = Console()
    console.print(table)
    for p in system.plugins:
        if p.status != "ok":
            console.print(f"[bold]{p.name}[/bold] ({p.source}): {p.status}" + (f": {p.error}" if p.error else ""))


commands = [plugins]
