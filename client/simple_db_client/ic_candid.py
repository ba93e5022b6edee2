"""ic-py's Candid module (`ic.candid`), loaded without running `ic/__init__.py`.

ic-py's package import pulls in its agent, httpx, ecdsa and more (about 0.15 s of CPU) although the
client uses only its Candid codec. This loads `ic.candid` (and the `ic.principal` and `ic.utils` it
needs) under a package module whose `__init__` has not run yet; the first time anything else asks the
`ic` package for a name (`from ic import Agent`), its `__init__` runs in place, so code that uses the
rest of ic-py is unaffected.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType


def _package_stub() -> ModuleType:
    spec = importlib.util.find_spec("ic")
    if spec is None or spec.loader is None:
        raise ImportError("ic-py is not installed (pip install ic-py==1.0.1)")
    package = importlib.util.module_from_spec(spec)

    def complete(name: str) -> object:
        """Run ic/__init__.py in the package the first time one of its names is asked for."""
        del package.__dict__["__getattr__"]
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__dict__["__getattr__"] = complete
    return package


def _load() -> ModuleType:
    module = sys.modules.get("ic.candid")
    if module is not None:
        return module
    if "ic" not in sys.modules:
        sys.modules["ic"] = _package_stub()
    return importlib.import_module("ic.candid")


candid = _load()
