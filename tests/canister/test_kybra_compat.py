"""Kybra compatibility of the database canister and the consumer example, checked offline."""

import ast
from pathlib import Path

import canister_kybra_checks as kybra_checks
import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "canister" / "src"
ENTRY = SOURCE / "main.py"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::SyntaxWarning")
CONSUMER = ROOT / "examples" / "consumer" / "src" / "main.py"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return kybra_checks.run_kybra_bundle(ENTRY, tmp_path_factory.mktemp("kybra-bundle"))


def test_kybra_bundler_finds_every_canister_module(bundle):
    nodes, python_source = bundle
    bundled = {p.name for p in python_source.iterdir()}
    assert "main.py" in bundled
    own_modules = {p.name for p in SOURCE.glob("*.py")} - {"main.py"}
    imported = {Path(n.filename).name for n in nodes if type(n).__name__ == "SourceModule"}
    assert own_modules <= imported
    assert own_modules <= bundled
    assert "kybra_simple_db" in bundled
    assert kybra_checks.local_missing(nodes) == []


def test_kybra_bundle_has_no_module_name_collisions(bundle):
    nodes, _ = bundle
    assert kybra_checks.bundle_collisions(nodes) == []


def test_no_module_named_like_stdlib_or_reused():
    assert kybra_checks.stdlib_shadows(SOURCE) == []
    assert kybra_checks.duplicate_basenames(SOURCE) == []
    assert kybra_checks.stdlib_shadows(CONSUMER.parent) == []


@pytest.mark.parametrize(
    "path", sorted(SOURCE.rglob("*.py")) + [CONSUMER], ids=lambda p: str(p.relative_to(ROOT))
)
def test_python_310_syntax(path):
    assert kybra_checks.syntax_problems(path) == []


@pytest.mark.parametrize("entry", [ENTRY, CONSUMER], ids=["simple_db", "consumer"])
def test_canister_methods_follow_kybra_rules(entry):
    assert kybra_checks.method_problems(entry) == []


def test_kybra_special_names_only_in_entry_module():
    others = [p for p in SOURCE.rglob("*.py") if p != ENTRY]
    problems = [problem for path in others for problem in kybra_checks.special_names_outside(path)]
    assert problems == []


def test_engine_never_imports_kybra():
    engine = SOURCE / "kybra_simple_db"
    offenders = [
        str(p)
        for p in engine.rglob("*.py")
        if "import kybra\n" in p.read_text() or "from kybra " in p.read_text()
    ]
    assert offenders == []


def test_method_checker_catches_violations(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from kybra import query, update\n"
        "@query\ndef _hidden(a: int) -> int: ...\n"
        "@update\ndef many(a: int, b: int, c: int, d: int, e: int, f: int) -> int: ...\n"
        "@query\ndef loose(a) -> int: ...\n"
        "@update\ndef update(a: int) -> int: ...\n"
        "@update\ndef after(a: int) -> int: ...\n"
    )
    problems = "\n".join(kybra_checks.method_problems(bad))
    assert "_hidden: name starts with _" in problems
    assert "6 parameters" in problems
    assert "parameter a not annotated" in problems
    assert "@update used after `def update`" in problems


def test_syntax_checker_catches_match_and_dict_unpacking(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("a = {**{}}\nmatch a:\n    case _:\n        pass\n")
    problems = "\n".join(kybra_checks.syntax_problems(bad))
    assert "match statement" in problems
    assert "dict unpacking" in problems


def test_syntax_checker_catches_else_on_a_loop(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(xs):\n    for x in xs:\n        break\n    else:\n        return xs, {}\n")
    assert "else on a loop" in "\n".join(kybra_checks.syntax_problems(bad))


def test_missing_module_check_catches_a_broken_import(tmp_path):
    (tmp_path / "main.py").write_text("import json\nimport not_written_yet\nfrom os import path\n")
    nodes, _ = kybra_checks.run_kybra_bundle(tmp_path / "main.py", tmp_path / "bundle")
    assert kybra_checks.local_missing(nodes) == ["not_written_yet"]


def test_bundle_collision_check_catches_flattened_duplicates(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from . import helpers\n")
    (tmp_path / "pkg" / "helpers.py").write_text("X = 1\n")
    (tmp_path / "helpers.py").write_text("Y = 2\n")
    (tmp_path / "main.py").write_text("import helpers\nimport pkg\n")
    nodes, _ = kybra_checks.run_kybra_bundle(tmp_path / "main.py", tmp_path / "bundle")
    assert any(problem.startswith("helpers.py:") for problem in kybra_checks.bundle_collisions(nodes))


def test_stable_map_sizes_given_to_the_service_match_the_declarations():
    from localnet.source_interface import read_interface

    iface, _ = read_interface(ENTRY)
    declared = {m.memory_id: (m.max_key_size, m.max_value_size) for m in iface.stable_maps.values()}
    tree = ast.parse(ENTRY.read_text())
    stable_maps = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "STABLE_MAPS"
    )
    names = {"db_storage": 0, "audit_storage": 1, "meta_storage": 2, "cert_storage": 3}
    given = {names[v.elts[0].id]: (v.elts[1].value, v.elts[2].value) for v in stable_maps.values}
    assert given == declared
    # docs/canister.md documents these
    assert declared == {0: (128, 1024), 1: (80, 1024), 2: (128, 16384), 3: (128, 1100)}
