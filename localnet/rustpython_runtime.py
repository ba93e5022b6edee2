"""Kybra's RustPython (wasm32-wasip1) for localnet: where it is, its compiled module, the IC's limits.

The runtime is not part of this repository: it is looked for in `shared/runtimes/kybra-rustpython/` beside
the repository or beside one of its parent directories (CI puts `../shared` next to the checkout), or in
the directory named by `KYBRA_RUSTPYTHON`. Its interpreter and `Lib/` are unpacked once into
`$XDG_CACHE_HOME/kybra-rustpython/<hash>/` and the compiled module is cached there (as its `run.py` does).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
from pathlib import Path

RUNTIME_ENV = "KYBRA_RUSTPYTHON"
RUNTIME_SUBDIR = Path("shared") / "runtimes" / "kybra-rustpython"
SKIP_REASON = "needs Kybra's RustPython runtime (../shared/runtimes/kybra-rustpython; see the note below)"
HOW_TO_GET = (
    "Kybra's RustPython runtime was not found: put it in ../shared/runtimes/kybra-rustpython beside the "
    f"repository or set {RUNTIME_ENV} to its directory (its BUILD.md says how to build rustpython.wasm.gz "
    "and Lib.tar.gz: `cargo build --release --target wasm32-wasip1` of its runner-src against Kybra 0.7.1's "
    "RustPython fork)"
)

# The IC's per-message instruction limits (execution environment, without deterministic time slicing).
UPDATE_LIMIT = 40_000_000_000
QUERY_LIMIT = 5_000_000_000
INSPECT_LIMIT = 200_000_000
INSTALL_LIMIT = 300_000_000_000  # init, post_upgrade and pre_upgrade (install_code)
LIMITS = {
    "query": QUERY_LIMIT,
    "update": UPDATE_LIMIT,
    "heartbeat": UPDATE_LIMIT,
    "inspect_message": INSPECT_LIMIT,
    "init": INSTALL_LIMIT,
    "post_upgrade": INSTALL_LIMIT,
    "pre_upgrade": INSTALL_LIMIT,
}


class RuntimeMissing(RuntimeError):
    """Kybra's RustPython runtime is not on this machine."""


def runtime_dir() -> Path | None:
    """The kybra-rustpython directory, or None when this machine does not have it."""
    override = os.environ.get(RUNTIME_ENV)
    if override:
        return Path(override) if (Path(override) / "rustpython.wasm.gz").exists() else None
    here = Path(__file__).resolve().parent.parent
    for base in (here, *here.parents):
        candidate = base.parent / RUNTIME_SUBDIR
        if (candidate / "rustpython.wasm.gz").exists() and (candidate / "Lib.tar.gz").exists():
            return candidate
    return None


def available() -> bool:
    """Whether the RustPython runtime and wasmtime are both here."""
    try:
        import wasmtime  # noqa: F401
    except ImportError:
        return False
    return runtime_dir() is not None


def unpacked() -> tuple[Path, Path]:
    """(rustpython.wasm, Lib directory), unpacked once per runtime build into the user's cache."""
    source = runtime_dir()
    if source is None:
        raise RuntimeMissing(HOW_TO_GET)
    blob = (source / "rustpython.wasm.gz").read_bytes()
    tag = hashlib.sha256(blob).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    root = cache / "kybra-rustpython" / tag
    wasm, lib = root / "rustpython.wasm", root / "Lib"
    if not wasm.exists():
        root.mkdir(parents=True, exist_ok=True)
        with tarfile.open(source / "Lib.tar.gz") as t:
            t.extractall(root, filter="data")
        part = wasm.with_suffix(f".part{os.getpid()}")
        part.write_bytes(gzip.decompress(blob))
        os.replace(part, wasm)
    return wasm, lib


def load_module(engine: object) -> object:
    """The compiled interpreter for `engine` (a fuel-metering wasmtime.Engine), compiled once and cached."""
    from importlib.metadata import version

    import wasmtime

    wasm, _ = unpacked()
    compiled = wasm.with_name(f"{wasm.name}.{version('wasmtime')}.cwasm")
    if compiled.exists():
        try:
            return wasmtime.Module.deserialize_file(engine, str(compiled))  # type: ignore[arg-type]
        except wasmtime.WasmtimeError:
            pass  # compiled by an incompatible build: compile again
    module = wasmtime.Module.from_file(engine, str(wasm))  # type: ignore[arg-type]
    part = compiled.with_suffix(f".part{os.getpid()}")
    part.write_bytes(module.serialize())
    os.replace(part, compiled)
    return module


def engine() -> object:
    """A wasmtime Engine that meters fuel (the configuration the cached module is compiled for)."""
    import wasmtime

    config = wasmtime.Config()
    config.consume_fuel = True
    return wasmtime.Engine(config)


def prepare() -> None:
    """Check that the runtime is here and compile it once, so canister processes only load it."""
    try:
        import wasmtime  # noqa: F401
    except ImportError:
        raise RuntimeMissing("the rustpython runtime needs wasmtime (pip install wasmtime==50.0.1)") from None
    load_module(engine())
