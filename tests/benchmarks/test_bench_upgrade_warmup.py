"""`python -m benchmarks.upgrade_warmup` on a tiny state under Kybra's RustPython, so the harness never rots:
post_upgrade is measured, and each create after it (of a type read ahead and of the last) is answered Ok
and measured."""

import pytest

from benchmarks.upgrade_warmup import measure
from localnet import rustpython_runtime

pytestmark = pytest.mark.skipif(
    not rustpython_runtime.available(), reason="Kybra's RustPython runtime not on this machine"
)


def test_post_upgrade_and_the_creates_after_it_are_measured():
    figures = measure(2, 2, 60)
    assert 1_000_000_000 < figures["post_upgrade"] < 300_000_000_000
    for t in (0, 1):
        for round_ in (1, 2):
            assert 1_000_000 < figures[(t, round_)] < 40_000_000_000
