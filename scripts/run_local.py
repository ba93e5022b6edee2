"""What `make run` runs: localnet, with the database canister `simple_db` and the consumer example
`consumer` deployed by the real `icp deploy`; prints their names, ids and copy-paste examples (Python
client, simpledb, icp by canister name); serves until Ctrl-C (SIGINT) or SIGTERM.

The canisters are installed by an admin identity kept in the state directory (`admin.pem`, created on
first run and imported into icp as `simpledb-admin`), so the printed examples can define types and
restore dumps; restarting keeps data (`icp deploy` upgrades).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import signal
import sys
import threading
from pathlib import Path

from icp_project import REPO, Icp, IcpError, canister_ids, forget_missing, mappings_file, write_project
from simple_db_client import Ed25519Identity, from_pem_file

from localnet import LocalNet, rustpython_runtime
from localnet.operator import OperatorError, explain

CANISTER = "simple_db"
CONSUMER = "consumer"
SPARE = "simple_db_spare"  # a second, empty simple_db: somewhere to import an export into
ENTRY = REPO / "canister" / "src" / "main.py"
PR_SET_PDEATHSIG = 1


def admin_identity(state_dir: Path) -> tuple[Path, Ed25519Identity]:
    """The installer's key, created once per state directory."""
    pem = state_dir / "admin.pem"
    if not pem.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        pem.write_bytes(Ed25519Identity().to_pem())
        pem.chmod(0o600)
    return pem, from_pem_file(pem)


def examples(
    url: str, ids: dict[str, str], admin_pem: Path, project: Path, identity: str, spare_id: str
) -> str:
    """Copy-paste examples for every way of talking to the canisters; each section works in a new shell
    once the first line is pasted."""
    create_arg = '("demo::Note", vec { record { name = "title"; value = variant { Text = "hello" } } })'
    who = f"--identity {identity}"
    python = REPO / ".venv" / "bin" / "python"
    return f"""\
New shell (paste first: puts icp and simpledb on PATH and selects this localnet's icp project):
  export PATH="{REPO}/bin:$PATH" ICP_PROJECT_ROOT="{project}"

Python client (paste into {python}, which has simple_db_client installed):
  from simple_db_client import SimpleDB
  db = SimpleDB("{url}", "{ids[CANISTER]}", identity="{admin_pem}", fetch_root_key=True)
  print(db.whoami(), db.schema())

simpledb CLI:
  export SIMPLEDB_URL={url} SIMPLEDB_CANISTER_ID={ids[CANISTER]} SIMPLEDB_LOCAL=1
  export SIMPLEDB_IDENTITY={admin_pem}
  simpledb define-type --name demo::Task --field title=text,required --field done=bool,default=false
  simpledb create demo::Task title=hello
  simpledb list demo::Task
  simpledb export tasks.jsonl

icp CLI (canisters by name):
  export URL={url} DB={ids[CANISTER]} CONSUMER={ids[CONSUMER]} FRESH_CANISTER_ID={spare_id} \\
    ADMIN_PEM={admin_pem} ADMIN_IDENTITY={identity}   # for the README and docs/canister.md
  icp canister call {CANISTER} whoami '()' --query {who}
  icp canister call {CANISTER} create '{create_arg}' {who}
  icp canister call {CONSUMER} database '()' --query {who}
  icp canister status {CANISTER} {who}
  icp deploy -y {who}

dfx:
  dfx identity import --storage-mode plaintext simpledb-admin {admin_pem}   # once
  dfx canister call --network {url} --identity simpledb-admin {ids[CANISTER]} get '("demo::Note", 1 : nat64)'
"""


def die_with_parent() -> None:
    """Get SIGTERM when the parent (make) goes, however it goes: no orphaned localnet keeps the port."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def deploy(net: LocalNet, state: Path, pem: Path, admin_principal: str) -> tuple[dict[str, str], Path, str]:
    """`icp deploy` both canisters into the running localnet, then point the consumer at the database.
    Returns the canister ids, the icp project directory and the icp identity name."""
    project = write_project(state / "project", net.url)
    hosted = set(net.canister_ids().values())
    legacy = net.canister_ids().get(CANISTER)  # state made before icp deployed: adopt that canister
    if legacy and not mappings_file(project).exists():
        mappings_file(project).parent.mkdir(parents=True, exist_ok=True)
        mappings_file(project).write_text(f'{{"{CANISTER}": "{legacy}"}}')
    forget_missing(project, hosted)
    icp = Icp(project, sys.executable)
    identity = icp.identity("simpledb-admin", pem, admin_principal)
    icp("deploy", "-y", "--identity", identity)
    ids = canister_ids(project)
    icp(
        "canister", "call", CONSUMER, "set_database", f'(principal "{ids[CANISTER]}")', "--identity", identity
    )
    return ids, project, identity


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4943, help="0 picks a free port")
    parser.add_argument("--state", default=str(REPO / ".state" / "localnet"), help="state directory")
    parser.add_argument(
        "--runtime",
        choices=("auto", "cpython", "rustpython"),
        default="auto",
        help="auto: Kybra's RustPython (wasm, IC instruction limits) when its runtime is here, else CPython",
    )
    args = parser.parse_args(argv)
    runtime = args.runtime
    if runtime == "auto":
        runtime = "rustpython" if rustpython_runtime.available() else "cpython"
        if runtime == "cpython":
            print(f"running the canisters under CPython. {rustpython_runtime.HOW_TO_GET}\n")
    state = Path(args.state).resolve()
    die_with_parent()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started in the background (SIGINT ignored)
        signal.signal(signum, lambda *_: stop.set())
    try:
        pem, admin = admin_identity(state)
        with LocalNet(state_dir=state, port=args.port, host=args.host, runtime=runtime) as net:
            print(
                f"localnet is up at {net.url}; deploying {CANISTER} and {CONSUMER} with icp deploy ...",
                flush=True,
            )
            if stop.is_set():  # Ctrl-C while localnet was starting
                print("\nstopping localnet", flush=True)
                return 0
            ids, project, identity = deploy(net, state, pem, admin.principal.to_str())
            spare_id = net.deploy(SPARE, ENTRY, controllers=[admin.principal.bytes])
            print(f"localnet is serving {CANISTER} and {CONSUMER}, deployed with icp deploy")
            print(f"  URL:          {net.url}")
            print(f"  canister id:  {ids[CANISTER]}  ({CANISTER})")
            print(f"  consumer id:  {ids[CONSUMER]}  ({CONSUMER})")
            print(f"  admin:        {admin.principal} (key: {pem}, icp identity: {identity})")
            print(f"  spare:        {spare_id} (a second simple_db, to import an export into)")
            counts = (
                " (each message's wasm instructions in the canister log)" if runtime == "rustpython" else ""
            )
            print(f"  runtime:      {runtime}{counts}")
            print(f"  logs:         {state / 'logs'}")
            print(f"  state:        {state}\n")
            print(examples(net.url, ids, pem, project, identity, spare_id))
            print("Press Ctrl-C to stop.", flush=True)
            stop.wait()
            print("\nstopping localnet", flush=True)
    except IcpError as e:
        if stop.is_set():  # Ctrl-C reached icp too (same terminal): stopping, not a failed deploy
            print("\nstopping localnet (interrupted during icp deploy)", flush=True)
            return 0
        print(f"make run: {e}", file=sys.stderr)
        return 1
    except OperatorError as e:
        print(f"make run: {make_options(str(e))}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"make run: {make_options(explain(e, args.host, args.port))}", file=sys.stderr)
        return 1
    return 0


def make_options(message: str) -> str:
    """localnet's advice names its command-line options; `make run` takes them as make variables."""
    return message.replace("--state DIR", "STATE=DIR").replace("with --port", "with PORT=N")


if __name__ == "__main__":
    sys.exit(main())
