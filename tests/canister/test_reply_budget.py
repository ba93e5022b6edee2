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


def _reference_size(value: object) -> int:
    """entity_size as first written (a call and a UTF-8 encode per text): the figure it must keep."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode("utf-8")) + 5
    if isinstance(value, (int, float)):
        return 10
    if isinstance(value, dict):
        return 4 + sum(_reference_size(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return 5 + sum(_reference_size(v) for v in value)
    return 32


class _Text(str):
    pass


class _Number(int):
    pass


class _Record(dict):
    pass


class _Items(list):
    pass


class _Principal:
    pass


def _random_value(rng, depth: int = 0):
    scalars = [None, True, False, 0, -5, 2**70, 1.5, float("nan"), "", "abc", "é€𝄞", "x" * 300, _Text("té"),
               _Number(3), _Principal(), b"blob"]
    if depth >= 4 or rng.random() < 0.4:
        return rng.choice(scalars)
    items = [_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    shape = rng.randrange(5)
    if shape == 0:
        return {f"k{i}": v for i, v in enumerate(items)}
    if shape == 1:
        return _Record({f"k{i}": v for i, v in enumerate(items)})
    if shape == 2:
        return tuple(items)
    if shape == 3:
        return _Items(items)
    return items


def test_entity_size_keeps_the_per_value_figures():
    """The estimate (all texts sized in one encode, common kinds inline) equals the per-value sum for
    records, variants, lists, tuples, subclasses, non-ASCII texts, bools, floats, None and principals."""
    import random

    from reply_budget import entity_size

    rng = random.Random(14)
    for _ in range(2000):
        value = _random_value(rng)
        assert entity_size(value) == _reference_size(value), value
    entity = {"type_name": "app::Item", "id": 7, "fields": [{"name": "name", "value": {"Text": "naïve"}},
              {"name": "n", "value": {"Int": -1}}, {"name": "b", "value": {"Bool": True}}],
              "refs": [{"relation": "r", "target_type": "app::T", "target_id": None}], "owner": _Principal(),
              "creator": _Principal(), "updater": _Principal(), "created_at": 1, "updated_at": 2,
              "version": 1}
    assert entity_size(entity) == _reference_size(entity)
