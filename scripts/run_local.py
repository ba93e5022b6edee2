"""What `make run` runs: localnet with the `simple_db` canister, its URL, canister id and copy-paste
examples (Python client, simpledb, icp, dfx); serves until Ctrl-C.

The canister is installed by an admin identity kept in the state directory (`admin.pem`, created on first
run), so the printed examples can define types and restore dumps; restarting keeps data (an upgrade).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from simple_db_client import Ed25519Identity, from_pem_file

from localnet import LocalNet, rustpython_runtime

REPO = Path(__file__).resolve().parents[1]
ENTRY = REPO / "canister" / "src" / "main.py"
CANISTER = "simple_db"
SPARE = "simple_db_spare"  # a second, empty simple_db: somewhere to import an export into


def admin_identity(state_dir: Path) -> tuple[Path, Ed25519Identity]:
    """The installer's key, created once per state directory."""
    pem = state_dir / "admin.pem"
    if not pem.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        pem.write_bytes(Ed25519Identity().to_pem())
        pem.chmod(0o600)
    return pem, from_pem_file(pem)


def examples(url: str, canister_id: str, admin_pem: Path, spare_id: str) -> str:
    """Copy-paste examples for every way of talking to the canister."""
    create_arg = '("demo::Note", vec { record { name = "title"; value = variant { Text = "hello" } } })'
    return f"""\
Python client:
  from simple_db_client import SimpleDB
  db = SimpleDB("{url}", "{canister_id}", identity="{admin_pem}", fetch_root_key=True)
  print(db.whoami(), db.schema())

simpledb CLI:
  export SIMPLEDB_URL={url} SIMPLEDB_CANISTER_ID={canister_id} SIMPLEDB_LOCAL=1
  export SIMPLEDB_IDENTITY={admin_pem}
  simpledb define-type --name demo::Task --field title=text,required --field done=bool,default=false
  simpledb create demo::Task title=hello
  simpledb list demo::Task
  simpledb export tasks.jsonl

icp CLI:
  export URL={url} DB={canister_id} FRESH_CANISTER_ID={spare_id}   # the README's examples use these
  icp identity import --storage plaintext --from-pem {admin_pem} simpledb-admin   # once
  icp canister call -n {url} -k fetch --identity simpledb-admin {canister_id} whoami '()' --query
  icp canister call -n {url} -k fetch --identity simpledb-admin {canister_id} create '{create_arg}'

dfx:
  dfx identity import --storage-mode plaintext simpledb-admin {admin_pem}   # once
  dfx canister call --network {url} --identity simpledb-admin {canister_id} get '("demo::Note", 1 : nat64)'
"""


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
            print(f"running the canister under CPython. {rustpython_runtime.HOW_TO_GET}\n")
    state = Path(args.state).resolve()
    pem, admin = admin_identity(state)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalNet(state_dir=state, port=args.port, host=args.host, runtime=runtime) as net:
        net.deploy(CANISTER, ENTRY, controllers=[admin.principal.bytes])
        net.deploy(SPARE, ENTRY, controllers=[admin.principal.bytes])
        canister_id = net.canister_id(CANISTER)
        spare_id = net.canister_id(SPARE)
        print(f"localnet is serving {CANISTER} ({ENTRY.relative_to(REPO)})")
        print(f"  URL:          {net.url}")
        print(f"  canister id:  {canister_id}")
        print(f"  admin:        {admin.principal} (key: {pem})")
        print(f"  spare:        {spare_id} (a second simple_db, to import an export into)")
        counts = " (each message's wasm instructions in the canister log)" if runtime == "rustpython" else ""
        print(f"  runtime:      {runtime}{counts}")
        print(f"  logs:         {state / 'logs'}")
        print(f"  state:        {state}\n")
        print(examples(net.url, canister_id, pem, spare_id))
        print("Press Ctrl-C to stop.", flush=True)
        try:
            while not stop.wait(3600):
                pass
        except KeyboardInterrupt:
            pass
        print("\nstopping localnet", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
