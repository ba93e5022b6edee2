"""swap_caller: set_caller_id with the caller it replaces given back (one call in the service's run_as)."""

import pytest
from kybra_simple_db import get_caller_id, set_caller_id, swap_caller


def test_swap_caller_sets_the_caller_and_gives_the_one_it_replaces():
    set_caller_id("alice")
    assert swap_caller("bob") == "alice" and get_caller_id() == "bob"
    for bad in ("", None, 3):
        with pytest.raises(ValueError):
            swap_caller(bad)
        assert get_caller_id() == "bob"
    assert swap_caller("alice") == "bob"
