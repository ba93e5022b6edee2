"""Errors the person running localnet can fix (a busy port, a state directory in use), as one line."""

from __future__ import annotations

import errno


class OperatorError(RuntimeError):
    """A problem with how localnet was started, not a bug: printed as one line, exit status 1."""


def explain(exc: OSError, host: str, port: int) -> str:
    """One line saying why localnet cannot serve on host:port."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use (another localnet? choose another with --port)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot serve on {host}: no such address on this machine"
    if exc.errno == errno.EACCES:
        return f"no permission to serve on {host}:{port} (ports below 1024 need privileges)"
    return f"cannot serve on {host}:{port}: {exc.strerror or exc}"
