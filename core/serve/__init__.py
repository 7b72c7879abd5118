"""``recgraft serve``: any registered checkpoint as an HTTP JSON service (Starlette on uvicorn).

    from recgraft.serve import serve
    serve("ml-1m-transformer@production", port=8000)   # blocks; Ctrl-C stops it

Needs the ``serve`` extra. See :mod:`recgraft.serve.app` for the endpoints.
"""

from __future__ import annotations

import ipaddress
import socket
import sys

from recgraft.errors import ConfigError
from recgraft.serve.settings import ServeSettings

__all__ = ["ServeSettings", "bind", "is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int, allow_remote: bool = False) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port); a host that is not loopback
    needs ``allow_remote``. ConfigError when refused or the address cannot be bound."""
    if not is_loopback(host) and not allow_remote:
        raise ConfigError(f"refusing to listen on {host}, which is not a loopback address: "
                          "pass --allow-remote to serve other machines")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def serve(
    reference: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    allow_remote: bool = False,
    registry_url: str | None = None,
    store: str | None = None,
    settings: ServeSettings | None = None,
) -> None:
    """Serve ``reference`` (name, name@version or name@alias) until interrupted.

    Binds first (so a refused or busy address fails before any model is loaded), then loads
    the checkpoint, then prints ``serving REF on http://HOST:PORT`` on stderr.
    """
    try:
        import uvicorn
    except ImportError:
        raise ConfigError("recgraft serve needs the serve extra: pip install 'recgraft[serve]'") from None
    from recgraft.registry import Registry
    from recgraft.serve.app import ModelHolder, create_app

    chosen = settings or ServeSettings()
    sock = bind(host, port, allow_remote)
    try:
        registry = Registry.open(url=registry_url, store=store, create=False)  # serving only reads
        holder = ModelHolder(registry, reference, chosen)
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        print(f"recgraft serve: {reference} ({holder.current.record.reference}) on http://{shown}:{bound_port}",
              file=sys.stderr, flush=True)
        config = uvicorn.Config(create_app(holder), log_level="warning", access_log=False, lifespan="on")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
