"""``recgraft plugins``: what is installed, and where it came from."""

from __future__ import annotations

import re

import click

from recgraft.cli.options import echo_json
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
            echo_json({"requirements": pins}, indent=None)
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
        echo_json(payload)
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


def _pip(*args: str) -> None:
    """Run pip in the environment recgraft runs from (as ``llm install`` does)."""
    import subprocess
    import sys

    from recgraft.cli import UserError

    done = subprocess.run([sys.executable, "-m", "pip", *args])
    if done.returncode != 0:
        raise UserError(f"pip {args[0]} failed with exit code {done.returncode}")


@plugins.command("install")
@click.argument("specs", nargs=-1)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade the packages if already installed.")
@click.option("-e", "--editable", "editable", multiple=True, metavar="PATH", help="Install a local plugin in editable mode.")
def install(specs: tuple[str, ...], upgrade: bool, editable: tuple[str, ...]) -> None:
    """Install plugin packages (pip requirement specifiers or paths) next to recgraft."""
    if not specs and not editable:
        from recgraft.cli import UserError

        raise UserError("plugins install: name at least one package (or -e PATH)")
    args = ["install", *(("--upgrade",) if upgrade else ()), *specs]
    for path in editable:
        args += ["--editable", path]
    _pip(*args)


#: A distribution name (PEP 508), without a version or extras.
DISTRIBUTION_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


def _check_uninstallable(name: str, plugin_dists: dict[str, str]) -> None:
    """UserError unless ``name`` is an installed distribution providing recgraft plugins."""
    import importlib.metadata

    from recgraft.cli import UserError
    from recgraft.plugin_manager import canonical_name

    if not DISTRIBUTION_NAME.fullmatch(name):
        raise UserError(f"plugins uninstall: {name!r} is not a distribution name (e.g. recgraft-bagofitems)")
    if canonical_name(name) == "recgraft":
        raise UserError("plugins uninstall: recgraft is recgraft itself, not a plugin; use pip to remove it")
    if canonical_name(name) in plugin_dists:
        return
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise UserError(f"plugins uninstall: {name} is not installed") from None
    known = ", ".join(sorted(plugin_dists.values())) or "none"
    raise UserError(
        f"plugins uninstall: {name} provides no recgraft plugins, so it is left alone "
        f"(plugin distributions installed: {known})"
    )


@plugins.command("uninstall")
@click.argument("names", nargs=-1, required=True)
def uninstall(names: tuple[str, ...]) -> None:
    """Uninstall plugin packages by distribution name (only those that provide recgraft plugins)."""
    from recgraft.plugin_manager import plugin_distributions

    plugin_dists = plugin_distributions()
    for name in names:  # all are checked before anything is removed
        _check_uninstallable(name, plugin_dists)
    _pip("uninstall", "--yes", *names)


commands = [plugins]
