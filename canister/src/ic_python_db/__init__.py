"""`ic_python_db`: the successor package's import name for this engine, so code written for
ic-python-db (`from ic_python_db import ...`, `from ic_python_db.schema import ...`) runs unchanged.

Everything is `kybra_simple_db`'s: the same classes, the same database.
"""

import sys

import kybra_simple_db
from kybra_simple_db import *  # noqa: F401,F403
from kybra_simple_db import __all__ as _engine_all
from kybra_simple_db import schema_check, storage_contract
from kybra_simple_db.schema_check import SchemaIncompatibleError, build_schema, diff_schemas, schema_hash

__version__ = kybra_simple_db.__version__
__all__ = list(_engine_all) + ["SchemaIncompatibleError", "build_schema", "diff_schemas", "schema_hash"]

# submodules by their ic-python-db names (no second file with the same basename in the canister)
sys.modules[__name__ + ".schema"] = schema_check
sys.modules[__name__ + ".storage"] = storage_contract
