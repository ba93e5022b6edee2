"""`python -m localnet start ...`: run a local IC serving Kybra canisters until SIGINT or SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

import click

from ic_protocol.principal import from_text
from localnet.net import LocalNet
from localnet.operator import OperatorError, explain


def _parse_canisters(specs: tuple[str, ...]) -> dict[str, str]:
    canisters: dict[str, str] = {}
    for spec in specs:
        name, sep, entry = spec.partition("=")
        if not sep or not name or not entry:
            raise click.BadParameter(f"{spec!r} is not NAME=ENTRY.py", param_hint="--canister")
        if name in canisters:
            raise click.BadParameter(f"canister {name!r} given twice", param_hint="--canister")
        if not Path(entry).is_file():
            raise click.BadParameter(f"{entry}: no such file", param_hint="--canister")
        canisters[name] = entry
    return canisters


def _parse_principals(texts: tuple[str, ...]) -> list[bytes] | None:
    try:
        return [from_text(text) for text in texts] or None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--controller") from exc


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@click.group()
def main() -> None:
    """localnet: a local Internet Computer for development and testing (not a production replica)."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", default=4943, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@click.option(
    "--state", "state_dir", default=".state/localnet", show_default=True, type=click.Path(file_okay=False)
)
@click.option("--canister", "canister_specs", multiple=True, metavar="NAME=ENTRY.py", help="Repeatable.")
@click.option(
    "--controller",
    "controller_texts",
    multiple=True,
    metavar="PRINCIPAL",
    help="Repeatable: the canisters' controllers (the first installs them); kept on upgrade if omitted.",
)
@click.option("--verbose", is_flag=True, help="Log every HTTP request to stderr.")
@click.option(
    "--runtime",
    type=click.Choice(["cpython", "rustpython"]),
    default="cpython",
    show_default=True,
    help="Run canisters under CPython, or under Kybra's RustPython in wasm with the IC's instruction limits.",
)
def start(
    host: str,
    port: int,
    state_dir: str,
    canister_specs: tuple[str, ...],
    controller_texts: tuple[str, ...],
    verbose: bool,
    runtime: str,
) -> None:
    """Install (or upgrade) each --canister and serve the IC HTTP interface until interrupted."""
    canisters = _parse_canisters(canister_specs)
    controllers = _parse_principals(controller_texts)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    net = LocalNet(
        canisters=canisters,
        state_dir=state_dir,
        port=port,
        host=host,
        verbose=verbose,
        controllers=controllers,
        runtime=runtime,
    )
    try:
        net.start()
    except OSError as exc:
        raise click.ClickException(explain(exc, host, port)) from exc
    except OperatorError as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:  # a canister that does not deploy: its source is wrong, say why
        raise click.ClickException(f"cannot deploy the canisters: {exc}") from exc
    try:
        ids = net.canister_ids()
        _write_atomically(
            Path(state_dir) / "canisters.json", json.dumps(ids, indent=2, sort_keys=True) + "\n"
        )
        for name in canisters:
            click.echo(f"{name}: {ids[name]}")
        click.echo(net.url)
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        net.stop()


if __name__ == "__main__":
    main()
