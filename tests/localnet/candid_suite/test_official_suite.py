"""The official Candid test suite (dfinity/candid test/*.test.did, see data/SOURCE.md) against localnet's
decoder: every assertion with a binary input is applicable; assertions whose inputs are all textual
are not (localnet reads no Candid text), as the suite's README allows. Each assertion is one test;
the few that cannot hold are listed in EXCEPTIONS with the reason, and marked strict xfail so that
they are noticed if they start to pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from candid_suite_parser import Assertion, Suite, comparable, parse_suite, parse_values, text_value_at

from localnet.candid_decoder import decode_counted
from localnet.candid_wire import CandidError

DATA = Path(__file__).parent / "data"
FILES = sorted(DATA.glob("*.test.did"))

# (file, description) -> why the assertion cannot hold here. None at present: every applicable assertion
# passes. (Kybra maps `opt T` to None or the value, so `null` and `opt null` are the same Python value;
# no assertion with a binary input happens to depend on telling them apart.)
EXCEPTIONS: dict[tuple[str, str], str] = {}


def _load() -> list[tuple[str, Suite, Assertion]]:
    cases = []
    for path in FILES:
        suite = parse_suite(path.read_text(encoding="utf-8"))
        for a in suite.assertions:
            cases.append((path.name.split(".")[0], suite, a))
    return cases


CASES = _load()
APPLICABLE = [c for c in CASES if c[2].left[0] == "blob" or (c[2].right and c[2].right[0] == "blob")]


def _param(case: tuple[str, Suite, Assertion]):
    name, _, a = case
    reason = EXCEPTIONS.get((name, a.desc))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(case, id=f"{name}:{a.line}:{a.desc or a.kind}", marks=marks)


def _decoded(side: tuple[str, bytes], a: Assertion, suite: Suite):
    kind, data = side
    if kind == "blob":
        return comparable(decode_counted(data, a.types, suite.iface)[0])
    values = parse_values(data, suite.iface)
    padded = values + [("null",)] * (len(a.types) - len(values))
    return comparable([text_value_at(v, t, suite.iface) for v, t in zip(padded, a.types)])


@pytest.mark.parametrize("case", [_param(c) for c in APPLICABLE])
def test_official_candid_assertion(case):
    _, suite, a = case
    if a.kind == ":":
        decode_counted(a.left[1], a.types, suite.iface)
    elif a.kind == "!:":
        with pytest.raises(CandidError):
            decode_counted(a.left[1], a.types, suite.iface)
    else:
        left, right = _decoded(a.left, a, suite), _decoded(a.right, a, suite)
        assert (left == right) is (a.kind == "=="), (left, right)


def test_the_whole_suite_is_read_and_counted():
    """Every file parses; the applicable count is what the docs report."""
    assert len(FILES) == 6
    assert len(CASES) == 467
    assert len(APPLICABLE) == 460
    known = {(name, a.desc) for name, _, a in APPLICABLE}
    assert set(EXCEPTIONS) <= known
