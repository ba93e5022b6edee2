"""Check a cost cut's claim "same stored bytes, same replies, same hashes": run the same random workloads
(same_bytes_workload.py) over the canister source of a base revision and over this work tree's, and
compare every reply, the certified data and every stable map after each message. Prints the first
difference (or that there is none) per workload; exits 1 on any difference.

    .venv/bin/python scripts/same_bytes.py --base 5d1e41f                  # CPython, both JSON modes
    .venv/bin/python scripts/same_bytes.py --base main --steps 300 --rustpython   # also on Kybra's RustPython

Each workload is one process per version (`--seeds` of each kind). Under RustPython (slow: about two
messages a second) both versions run there, since RustPython's json escapes some characters that
CPython's does not (U+007F), so stored bytes are compared within one interpreter only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKLOAD = Path(__file__).resolve().with_name("same_bytes_workload.py")
RUSTPYTHON = Path(os.environ.get("KYBRA_RUSTPYTHON", "/work/shared/runtimes/kybra-rustpython/run.py"))


def source_of(revision: str, into: Path) -> Path:
    """canister/src as of `revision`, unpacked under `into`."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "canister/src"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into)
    return into / "canister" / "src"


def principal_shim(into: Path) -> Path:
    """A directory holding kybra's pure-Python Principal alone (what the workload imports of kybra), for
    RustPython, which has no site-packages."""
    from kybra.compiler.custom_modules import principal
    package = into / "kybra" / "compiler" / "custom_modules"
    package.mkdir(parents=True)
    for folder in (into / "kybra", into / "kybra" / "compiler", package):
        (folder / "__init__.py").write_text("")
    (package / "principal.py").write_text(Path(principal.__file__).read_text())
    return into


def trace(src: Path, settings: dict, shim: Path = None) -> dict:
    """The workload's JSON trace over `src` (under RustPython when `shim` is given)."""
    env = dict(os.environ, SB_SRC=str(src), **settings)
    if shim is None:
        command = [sys.executable, str(WORKLOAD)]
    else:
        env["KRP_ENV"] = ",".join(["SB_SRC"] + sorted(settings))
        command = [sys.executable, str(RUSTPYTHON), str(WORKLOAD), str(src), str(shim)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the workload failed over {src}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def first_difference(base: dict, ours: dict):
    """(step, what differs, base's entry, ours) of the first message whose trace differs (an entry: step,
    reply, then the certified data and a digest of the maps, or the hooks heard and the digest), else of
    the final maps."""
    for before, after in zip(base["trace"], ours["trace"]):
        if before != after:
            parts = ("reply", "certified data or hooks heard", "stored maps")
            what = [name for name, x, y in zip(parts, before[1:], after[1:]) if x != y]
            return before[0], ", ".join(what), before, after
    if len(base["trace"]) != len(ours["trace"]) or base["final"] != ours["final"]:
        return "end", "stored maps", "", ""
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the revision to compare with (e.g. main, 5d1e41f)")
    parser.add_argument("--steps", type=int, default=800, help="messages per workload")
    parser.add_argument("--seeds", type=int, default=2, help="workloads of each kind and JSON mode")
    parser.add_argument("--rustpython", action="store_true", help="run both versions on Kybra's RustPython")
    parser.add_argument("--modes", default="service,engine,index", help="workload kinds, comma-separated")
    args = parser.parse_args()
    ours = REPO / "canister" / "src"
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        base = source_of(args.base, Path(tmp) / "base")
        shim = principal_shim(Path(tmp) / "shim") if args.rustpython else None
        for mode in args.modes.split(","):
            for native in ("0",) if args.rustpython else ("1", "0"):
                for seed in range(1, args.seeds + 1):
                    # (the service's maps offer host functions, as main.py's do, in every other workload)
                    host = str((seed + int(native)) % 2) if mode == "service" else "0"
                    settings = {"SB_MODE": mode, "SB_SEED": str(seed), "SB_STEPS": str(args.steps),
                                "SB_NATIVE": native, "SB_TICK": str(seed % 2), "SB_HOST": host}
                    found = first_difference(trace(base, settings, shim), trace(ours, settings, shim))
                    label = f"{mode} seed {seed} native_json={native}" + " host_functions" * (host == "1")
                    if found is None:
                        print(f"{label}: same ({args.steps} messages)")
                        continue
                    failed = True
                    step, what, before, after = found
                    print(f"{label}: DIFFERENT at step {step} ({what})\n  base: {json.dumps(before)[:2000]}\n"
                          f"  ours: {json.dumps(after)[:2000]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
