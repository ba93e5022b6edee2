"""`python -m benchmarks.dump_pages` on a tiny state under Kybra's RustPython, so the harness never rots:
every page of the dump is measured and the last one ends it."""

import pytest

from benchmarks.dump_pages import build_wide, measure
from localnet import rustpython_runtime

pytestmark = pytest.mark.skipif(not rustpython_runtime.available(),
                                reason="Kybra's RustPython runtime not on this machine")


def test_each_page_of_a_small_dump_is_measured():
    pages = measure(build_wide("\U0001f600", 2))
    assert [p["next"] for p in pages] == ["2:1", None]
    assert all("error" not in p and 0 < p["instructions"] < 1_000_000_000 for p in pages)
    assert all(p["chars"] <= 1_000_100 for p in pages)
