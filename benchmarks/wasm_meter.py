"""Run a script under Kybra's RustPython (wasm) in wasmtime and let it read its own instruction count.

The runtime is the one issue 14 provides (`<parent>/shared/runtimes/kybra-rustpython/`, or the
directory in $KYBRA_RUSTPYTHON). Its `run.py` unpacks and compiles the interpreter; this host
runs the same module, but answers the guest's wall-clock reads (WASI `clock_time_get`, which this
build uses for `time.time()` and `time.monotonic_ns()`) with the fuel consumed so far, so a guest
script measures the wasm instructions of any stretch of code as a difference of
`time.monotonic_ns()` readings.
"""

import importlib.util
import os
import struct
from pathlib import Path
from types import ModuleType
from typing import Optional

FUEL = 10**13
RUNTIME_ENV = "KYBRA_RUSTPYTHON"


def runtime_dir() -> Optional[Path]:
    """The kybra-rustpython directory, or None when this machine does not have it."""
    configured = os.environ.get(RUNTIME_ENV)
    if configured:
        path = Path(configured)
        return path if (path / "run.py").exists() else None
    for parent in Path(__file__).resolve().parents:
        path = parent / "shared" / "runtimes" / "kybra-rustpython"
        if (path / "run.py").exists():
            return path
    return None


def _run_module(runtime: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("kybra_rustpython_run", runtime / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_metered(script: Path, paths: list[Path], args: tuple = (), fuel: int = FUEL) -> tuple[int, int, str]:
    """Run `script` (with `paths` on its sys.path, `args` in the environment as KRP_ARGS) under the
    interpreter. Returns (exit status, fuel used, the script's stdout); stderr passes through."""
    import tempfile

    import wasmtime

    runtime = runtime_dir()
    if runtime is None:
        raise RuntimeError(f"Kybra's RustPython runtime not found (set ${RUNTIME_ENV})")
    krp = _run_module(runtime)
    wasm, lib = krp.unpacked()
    config = wasmtime.Config()
    config.consume_fuel = True
    engine = wasmtime.Engine(config)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    linker.allow_shadowing = True
    from importlib.metadata import version

    compiled = wasm + "." + version("wasmtime") + ".cwasm"
    if os.path.exists(compiled):
        module = wasmtime.Module.deserialize_file(engine, compiled)
    else:
        module = wasmtime.Module.from_file(engine, wasm)
        tmp = compiled + ".part"
        Path(tmp).write_bytes(module.serialize())
        os.replace(tmp, compiled)
    store = wasmtime.Store(engine)

    def clock_time_get(caller, clock_id: int, precision: int, out: int) -> int:
        used = fuel - store.get_fuel()
        caller["memory"].write(caller, struct.pack("<Q", used), out)
        return 0

    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
    linker.define_func("wasi_snapshot_preview1", "clock_time_get", wasmtime.FuncType([i32, i64, i32], [i32]),
                       clock_time_get, access_caller=True)
    script = script.resolve()
    dirs = [str(p.resolve()) for p in paths]
    wasi = wasmtime.WasiConfig()
    wasi.argv = [wasm, str(script), *dirs, lib]
    out = tempfile.NamedTemporaryFile(prefix="krp-out-", suffix=".txt", delete=False)
    out.close()
    wasi.stdout_file = out.name
    wasi.inherit_stderr()
    wasi.env = [["KRP_ARGS", " ".join(str(a) for a in args)]]
    for d in {str(script.parent), lib, *dirs}:
        wasi.preopen_dir(d, d)
    store.set_wasi(wasi)
    store.set_fuel(fuel)
    instance = linker.instantiate(store, module)
    code = 0
    try:
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as e:
        code = e.code
    except wasmtime.Trap as e:
        print("TRAP:", str(e)[:500])
        code = 134
    text = Path(out.name).read_text()
    os.unlink(out.name)
    return code, fuel - store.get_fuel(), text
