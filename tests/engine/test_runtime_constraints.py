"""The engine package stays loadable by Kybra's RustPython: syntax, module names, forbidden names."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "canister" / "src" / "kybra_simple_db"
FILES = sorted(PACKAGE.glob("*.py"))
KYBRA_DECORATORS = {"query", "update", "init", "pre_upgrade", "post_upgrade", "heartbeat", "inspect_message"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_module_is_kybra_safe(path):
    tree = ast.parse(path.read_text(), feature_version=(3, 10))
    assert path.stem not in sys.stdlib_module_names
    for node in ast.walk(tree):
        assert not isinstance(node, ast.Match), "no match statements"
        if isinstance(node, ast.Dict):
            assert None not in node.keys, "no {**d} unpacking (RustPython bug)"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            assert not any(n.split(".")[0] in ("kybra", "re", "dataclasses", "contextvars", "threading")
                           for n in names), names
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for deco in node.decorator_list:
                name = deco.id if isinstance(deco, ast.Name) else getattr(deco, "attr", None)
                assert name not in KYBRA_DECORATORS
            for arg in node.args.args + node.args.kwonlyargs:
                union = isinstance(arg.annotation, ast.BinOp) and isinstance(arg.annotation.op, ast.BitOr)
                assert not union, "no X | Y annotations at runtime"
        if isinstance(node, ast.ClassDef):
            assert not {getattr(b, "id", None) for b in node.bases} & {"Record", "Variant", "Service"}
        if isinstance(node, ast.Name):
            assert node.id != "StableBTreeMap"


def test_basenames_are_unique_across_the_canister_sources():
    src = PACKAGE.parent
    ours = {p.stem for p in FILES if p.stem != "__init__"}
    others = {p.stem for p in src.rglob("*.py") if PACKAGE not in p.parents}
    assert not ours & others


def test_database_without_time_ns_uses_time(monkeypatch):
    """Kybra's RustPython has no `time.time_ns`: the default clock falls back to `time.time`."""
    import time

    from kybra_simple_db import Database, Entity, String

    monkeypatch.delattr(time, "time_ns")
    before = int(time.time() * 1_000_000) * 1000
    db = Database()
    Database._instance = db

    class Clockless(Entity):
        name = String()

    item = Clockless(name="a")
    after = int(time.time() * 1_000_000) * 1000
    assert before <= item.meta()["created"] <= after
    assert db.now() >= item.meta()["created"]
