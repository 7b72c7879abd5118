"""``recgraft serve REF``: a registered checkpoint as an HTTP JSON service (the ``serve`` extra).

Listens on loopback unless ``--allow-remote`` is given; a movable reference (an alias such
as ``NAME@production``, or a bare name) is re-resolved every ``--poll-seconds`` and the new
checkpoint swapped in without dropping requests. It never writes to the registry.
"""

from __future__ import annotations

import click
from pydantic import ValidationError

from recgraft.cli.options import device_option, registry_option


@click.command()
@click.argument("reference", metavar="REF")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port, printed at start).")
@click.option("--allow-remote", is_flag=True, help="Allow a --host that is not a loopback address.")
@click.option("--max-batch", type=int, default=32, show_default=True,
              help="Requests scored in one forward pass (1: no batching).")
@click.option("--max-wait-ms", type=float, default=2.0, show_default=True,
              help="How long a batch that is not full waits for more requests.")
@click.option("--poll-seconds", type=float, default=10.0, show_default=True,
              help="How often an alias (or bare name) is re-resolved.")
@click.option("--max-history", type=int, default=5000, show_default=True, help="Longest history accepted.")
@click.option("--max-k", type=int, default=100, show_default=True, help="Largest k accepted.")
@device_option
@registry_option
def serve(reference: str, host: str, port: int, allow_remote: bool, max_batch: int, max_wait_ms: float,
          poll_seconds: float, max_history: int, max_k: int, device: str, registry_url: str | None,
          checkpoint_store: str | None) -> None:
    """Serve checkpoint REF over HTTP: POST /recommend, GET /health, GET /model."""
    from recgraft.errors import ConfigError
    from recgraft.serve import ServeSettings
    from recgraft.serve import serve as run_service

    try:
        settings = ServeSettings(max_batch=max_batch, max_wait_ms=max_wait_ms, poll_seconds=poll_seconds,
                                 max_history=max_history, max_k=max_k, device=device)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']}") from None
    run_service(reference, host, port, allow_remote=allow_remote, registry_url=registry_url,
                store=checkpoint_store, settings=settings)


commands = [serve]
