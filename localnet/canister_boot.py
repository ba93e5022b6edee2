"""Start a canister process (`python localnet/canister_boot.py FD [rustpython]`) without `localnet/__init__`.

The package's `__init__` pulls in the HTTP side (CBOR, BLS, TLS...), which doubles the process's memory;
every message forks this process and fork time grows with memory, so the canister process loads only
the runtime modules it needs, through a bare package object.
"""

import sys
import types
from pathlib import Path

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    del sys.path[0]  # the script's own directory: its modules must not shadow the canister's
    package = types.ModuleType("localnet")
    package.__path__ = [str(here)]
    sys.modules["localnet"] = package
    if sys.argv[2:] == ["rustpython"]:
        from localnet.wasm_process import main
    else:
        from localnet.canister_process import main

    main()
