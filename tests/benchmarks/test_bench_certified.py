"""The certified-data benchmark runs, and its deterministic counts meet issue 10's targets at small sizes
(the full run up to 100,000 entities is `python -m benchmarks.certified`)."""

from benchmarks.certified import measure, render, witness_at


def test_certified_costs_meet_the_targets():
    results = [measure(n, samples=40) for n in (300, 5000)]
    for r in results:
        assert r["update_writes_max"] <= r["target_writes"], r
        assert r["get_reads"] <= r["target_reads"], r
        assert r["update_sha256"] <= 32 + 16 * r["levels"], r  # level 1 rehashes its 16 labeled leaves
        assert r["witness_bytes"] < 2048 and r["absent_witness_bytes"] < 2048, r
        assert r["chain_writes_per_message_of_2"] == 2 and r["chain_reads_per_message"] == 0, r
    assert witness_at(1_000_000, results[-1]) < 2048
    assert "witness at 1,000,000 entities" in render(results)
