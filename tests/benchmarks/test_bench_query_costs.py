"""The query-cost benchmark runs, and its deterministic storage counts meet issue 11's targets at a
small size (the full run at 100,000 entities is `python -m benchmarks.query_costs`)."""

from benchmarks.query_costs import measure, render


def test_query_costs_meet_the_targets_at_3000_entities():
    result = measure(3000)
    assert result["index_writes_per_field_create"] <= 3
    assert result["index_writes_per_field_update"] <= 3
    for field, costs in result["by_field"].items():     # B+tree nodes and value counts, field by field
        assert sum(costs["create"]) <= 3 and sum(costs["update"]) <= 3, field
    assert result["by_field"]["name"]["update"][1] == 0     # no stored count for a value with few entries
    for field, (_value, counted, reads) in result["count_by"].items():
        assert counted >= 1 and reads <= 8, field
    for label, (reads, second, items, _, writes) in result["pages"].items():
        assert writes == 0
        if "residual" not in label:
            assert items == 100 and reads <= 120 and second <= 120, label
    assert "ordered indexes at n = 3,000" in render(result)
