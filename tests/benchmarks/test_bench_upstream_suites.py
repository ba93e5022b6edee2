"""The upstream-suite runner on a tiny made-up checkout: Tester files, pytest files, scripts, and the
upstream package never shadowing the engine under test."""

import sys
from pathlib import Path

from benchmarks.upstream.suites import ENGINE, suite_files

TESTER = '''
import kybra_simple_db
def test_a(): pass
def test_b(): pass
def test_c(): pass
if __name__ == "__main__":
    print("[INFO] [x] test_a passed")
    print("[ERROR] [x] test_b failed: boom")
    print("engine:", kybra_simple_db.__file__)
'''
PYTEST = '''
def test_one():
    assert True

def test_two():
    assert False
'''
SCRIPT = '''
def run():
    return 0

if __name__ == "__main__":
    exit(run())
'''
NEEDS_CANISTER = "import kybra\n\ndef test_x():\n    pass\n"


def _checkout(root: Path) -> Path:
    tests = root / "tests" / "src" / "tests"
    tests.mkdir(parents=True)
    (tests / "__init__.py").write_text("")
    (tests / "test_tester.py").write_text(TESTER)
    (tests / "test_plain.py").write_text(PYTEST)
    (tests / "test_example.py").write_text(SCRIPT)
    (tests / "test_stress.py").write_text(NEEDS_CANISTER)
    (root / "kybra_simple_db").mkdir()
    (root / "kybra_simple_db" / "__init__.py").write_text("raise ImportError('the upstream copy')\n")
    return root


def test_files_run_their_own_way_and_count(tmp_path):
    files = dict((path.name, runner) for path, runner in suite_files(_checkout(tmp_path)))
    assert sorted(files) == ["test_example.py", "test_plain.py", "test_tester.py"]     # no canister-only file
    tests = tmp_path / "tests" / "src" / "tests"
    tester = files["test_tester.py"](sys.executable, tests / "test_tester.py", ENGINE)
    assert tester["passed"] == ["test_a"] and tester["failed"] == ["test_b", "test_c"]
    assert str(ENGINE) in tester["output"]
    plain = files["test_plain.py"](sys.executable, tests / "test_plain.py", ENGINE)
    assert plain["passed"] == ["test_one"] and plain["failed"] == ["test_two"]
    script = files["test_example.py"](sys.executable, tests / "test_example.py", ENGINE)
    assert script["passed"] == ["(script)"] and script["failed"] == []
