"""Binding the application to an address: loopback unless told otherwise, a token elsewhere."""

import ipaddress
import socket

from vaekit.errors import VaekitError


def is_loopback(host):
    """Whether `host` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host, port):
    """A listening socket on `host:port` (port 0: any free port), or a one-line error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise VaekitError(f"Cannot resolve --host {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise VaekitError(f"Cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def run_server(app, host="127.0.0.1", port=8000, token=None, on_ready=None, log_level="warning"):
    """Serve `app` on `host:port` until interrupted (uvicorn).

    A host other than loopback needs a `token` (clients then send `Authorization: Bearer TOKEN`).
    `on_ready(sock)` is called with the bound socket before serving (the CLI prints the address).
    """
    import uvicorn

    if not is_loopback(host) and not token:
        raise VaekitError(
            f"Serving on {host} reaches other machines: expected a token (--token or "
            "$VAEKIT_SERVE_TOKEN) that clients send as `Authorization: Bearer TOKEN`."
        )
    sock = bind(host, port)
    if on_ready is not None:
        on_ready(sock)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
