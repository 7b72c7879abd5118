"""``recgraft plugins``: what is installed, and where it came from."""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import re
import types
import typing
from typing import Any

import click

from recgraft.cli.options import echo_json
from recgraft.components import KINDS, ComponentCatalog, ComponentEntry
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
            "conflicts": system.catalog.clashes(),
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
    for clash in system.catalog.clashes():  # neither plugin's component is used until one is disabled
        console.print(clash, markup=False, highlight=False, soft_wrap=True)
    for p in system.plugins:
        if p.status != "ok":
            console.print(f"[bold]{p.name}[/bold] ({p.source}): {p.status}" + (f": {p.error}" if p.error else ""))


def _type_name(annotation: Any) -> str:
    """A field's type as a reader writes it: ``int``, ``list[str]``, ``'last' | 'mean'``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        constraints = _constraints([m for info in args[1:] for m in getattr(info, "metadata", [info])])
        inner = _type_name(args[0])
        return f"{inner} ({', '.join(f'{k}={v}' for k, v in constraints.items())})" if constraints else inner
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"
    if annotation is type(None):
        return "None"
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")


def _constraints(metadata: list[Any]) -> dict[str, Any]:
    """Constraints (``ge``, ``max_length``, ...) from a pydantic field's metadata."""
    found: dict[str, Any] = {}
    for item in metadata:
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            values = dataclasses.asdict(item)
        else:
            values = vars(item) if hasattr(item, "__dict__") else {}
        found.update({k: v for k, v in values.items() if v is not None and not k.startswith("_")})
    return found


def component_details(entry: ComponentEntry) -> dict[str, Any]:
    """What ``plugins show`` prints: where a component comes from and each of its settings."""
    from pydantic import ValidationError

    cls = entry.load()
    config = cls.Config
    try:
        defaults = config().model_dump(mode="json")
    except ValidationError:
        defaults = {}
    settings = []
    for name, info in config.model_fields.items():
        settings.append({
            "name": name,
            "type": _type_name(info.annotation),
            "default": defaults.get(name),
            "required": info.is_required(),
            "constraints": {k: v for k, v in _constraints(info.metadata).items()},
            "description": info.description,
        })
    doc = inspect.getdoc(cls) or ""
    return {
        "kind": entry.kind,
        "name": entry.name,
        "plugin": entry.plugin,
        "source": entry.source,
        "distribution": entry.distribution,
        "version": entry.version,
        "status": entry.status,
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "description": doc.split("\n\n")[0].replace("\n", " ") if doc else None,
        "settings": settings,
    }


def _find(catalog: ComponentCatalog, name: str, kind: str | None) -> ComponentEntry:
    """The one entry ``name`` (of ``kind``) names; UserError when it is ambiguous or unknown."""
    from recgraft.cli import UserError

    if kind is not None:
        return catalog.rivals(kind, name)[0] if catalog.rivals(kind, name) else catalog.entry(kind, name)
    kinds = sorted({e.kind for e in catalog.entries() if e.name == name}, key=KINDS.index)
    if len(kinds) > 1:
        what = " and ".join(("an " if kind[0] in "aeiou" else "a ") + kind for kind in kinds)
        raise UserError(f"plugins show: '{name}' names {what}; pass --kind {kinds[-1]} (or {', '.join(kinds[:-1])})")
    if not kinds:
        known = sorted({e.name for e in catalog.entries()})
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UserError(f"plugins show: no component named '{name}' (see recgraft plugins list){hint}")
    return catalog.rivals(kinds[0], name)[0]


@plugins.command("show")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="The component's kind, when NAME is several.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(name: str, kind: str | None, as_json: bool) -> None:
    """A component's plugin, distribution and version, and its settings (type, default,
    constraints, description)."""
    system = load_plugins()
    details = component_details(_find(system.catalog, name, kind))
    if as_json:
        click.echo(json.dumps(details, indent=2))
        return
    where = details["distribution"] or details["source"]
    if details["distribution"] and details["version"]:
        where += f" {details['version']}"
    click.echo(f"{details['kind']} '{details['name']}' from plugin {details['plugin']} ({where})")
    click.echo(f"class {details['class']}")
    if details["status"] != "ok":
        click.echo(f"status: {details['status']}")
    if details["status"].startswith("conflict"):
        click.echo(system.catalog.clash(details["kind"], details["name"]))
    if details["description"]:
        click.echo(details["description"])
    if not details["settings"]:
        click.echo("no settings")
        return
    rows = [("setting", "type", "default", "constraints", "description")]
    for field in details["settings"]:
        default = "(required)" if field["required"] else json.dumps(field["default"])
        constraints = ", ".join(f"{k}={v}" for k, v in field["constraints"].items())
        rows.append((field["name"], field["type"], default, constraints, field["description"] or ""))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    click.echo()
    for row in rows:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4]
        click.echo(line.rstrip())


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
