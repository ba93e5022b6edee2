"""`python -m benchmarks.canister_deletes` on tiny states under Kybra's RustPython, so the harness never
rots: the delete and its timer messages run, and nothing of the deleted graph is left."""

import pytest

from benchmarks.canister_deletes import delete_across_messages
from localnet import rustpython_runtime

pytestmark = pytest.mark.skipif(not rustpython_runtime.available(),
                                reason="Kybra's RustPython runtime not on this machine")


@pytest.mark.parametrize("kind", ["chain", "links"])
def test_the_root_and_everything_it_cascades_to_is_deleted(kind):
    row = delete_across_messages(kind, 5)
    assert row["messages"] >= 1 and 0 < row["worst"] <= row["total"]
    assert row["remaining"] == {"Ok": 0}
