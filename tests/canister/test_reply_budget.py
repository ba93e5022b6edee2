"""reply_budget.ReplyBudget: a page takes items while their bytes fit and the message's instructions,
with what converting each item taken into the reply will still cost, stay within the allowance."""

import sys
from pathlib import Path

SOURCE = str(Path(__file__).resolve().parents[2] / "canister" / "src")
if SOURCE not in sys.path:
    sys.path.insert(0, SOURCE)

from reply_budget import ReplyBudget  # noqa: E402


def test_each_item_taken_reserves_its_conversion():
    used = [0]
    budget = ReplyBudget(1_000_000, lambda: used[0], instructions=1_000, per_item=100)
    taken = 0
    while budget.take(10):
        taken += 1
        used[0] += 50  # building the next item
    # offered item k (from 0): the meter reads 50k and k + 1 conversions are reserved, 150k + 100 <= 1,000
    assert taken == 7
    assert (used[0] - 50) + 100 * taken <= 1_000  # the meter when the last was taken, and all conversions


def test_without_a_per_item_cost_only_the_meter_counts():
    used = [0]
    budget = ReplyBudget(1_000_000, lambda: used[0], instructions=1_000)
    taken = 0
    while budget.take(10):
        taken += 1
        used[0] += 50
    assert taken == 21  # the meter read 1,000 at the 21st (not past it): the 22nd is refused


def test_bytes_that_do_not_fit_consume_nothing():
    budget = ReplyBudget(100)
    assert not budget.take(101)
    assert budget.take(60) and budget.take(40) and not budget.take(1)
