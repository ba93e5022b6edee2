"""The results table and the targets of issue 2 are judged correctly from results."""

from benchmarks.engine import merge_runs
from benchmarks.engine_report import count_checks, render, speed_checks


def counts(reads=0, writes=0, bytes_written=0):
    def one(value):
        return {"mean": value, "median": value, "max": value}

    return {"reads": one(reads), "writes": one(writes), "bytes_written": one(bytes_written), "scans": one(0)}


def result(version, rate, writes, page_reads, links_done=10, first=None, last=None):
    phases = {
        name: dict(counts(writes=writes, reads=1), rate=rate)
        for name in ("get_by_id", "get_by_alias", "update", "delete", "link", "unlink")
    }
    phases["get_by_id"]["writes"] = {"mean": 0, "median": 0, "max": 0}
    phases["create"] = dict(
        counts(writes=writes), rate=rate, first_rate=first or rate, last_rate=last or rate
    )
    phases["page"] = dict(counts(reads=page_reads), rate=rate)
    phases["m2m_capped"] = dict(
        counts(writes=writes),
        rate=rate,
        links_done=links_done,
        links_requested=10,
        ok=links_done == 10,
        error=None if links_done == 10 else f"link {links_done + 1} failed: too large",
    )
    return {"version": version, "phases": phases, "errors": {}}


def by_name(checks):
    return {c.name: c for c in checks}


def test_ratios_use_the_faster_upstream():
    results = {
        "ours": result("0.1", 3000.0, 3, 120),
        "kybra-simple-db": result("0.5.0", 100.0, 9, 700, links_done=3),
        "ic-python-db": result("0.12.0", 1000.0, 9, 200, links_done=4),
    }
    checks = by_name(speed_checks(results))
    assert checks["create (all)"].measured == "3.00x" and checks["create (all)"].met is False
    assert checks["get by id, cold"].met is True
    assert checks["create: last block rate / first"].met is True


def test_storage_ceilings_and_capped_links():
    ours = result("0.1", 1.0, 6, 151, links_done=5)
    checks = by_name(count_checks({"ours": ours}))
    assert checks["create: writes"].met is False  # 6 > 5
    assert checks["update one field: writes"].met is False
    assert checks["get by id: writes"].met is True
    assert checks["page of 100: reads"].met is False  # 151 > 150
    assert checks["ManyToMany, 1,000-byte values"].met is False
    assert checks["ManyToMany, 1,000-byte values"].measured == "5 of 10"


def test_create_slowing_down_misses_the_25_percent_target():
    ours = result("0.1", 1.0, 1, 1, first=1000.0, last=700.0)
    assert by_name(speed_checks({"ours": ours}))["create: last block rate / first"].met is False


def test_render_shows_every_package_missing_figures_and_errors():
    results = {
        "ours": {"package": "ours", "error": "ImportError: boom"},
        "kybra-simple-db": result("0.5.0", 100.0, 9, 700, links_done=3),
    }
    text = render(results)
    assert "kybra-simple-db 0.5.0" in text and "| ours" in text
    assert "link 4 failed: too large" in text
    assert "ImportError: boom" in text
    assert "n/a" in text


def test_one_time_work_shows_as_max_but_the_typical_operation_is_judged():
    ours = result("0.1", 1.0, 4, 100)
    ours["phases"]["create"]["writes"] = {"mean": 4.0003, "median": 4, "max": 7}
    check = by_name(count_checks({"ours": ours}))["create: writes"]
    assert check.met is True and check.measured == "4 (max 7)"
    assert "4 (max 7)" in render({"ours": ours})


def test_counts_come_from_the_counting_run_and_times_from_the_fastest_timing_run():
    counted = result("0.1", 10.0, 3, 100)
    slow, fast = result("0.1", 100.0, 0, 0), result("0.1", 300.0, 0, 0)
    fast["phases"]["update"]["rate"] = 50.0
    fast["errors"] = {"page": "AssertionError: wrong page"}
    merged = merge_runs(counted, [slow, fast])
    assert merged["runs"] == 2
    assert merged["phases"]["create"]["rate"] == 300.0
    assert merged["phases"]["update"]["rate"] == 100.0
    assert merged["phases"]["create"]["writes"]["max"] == 3
    assert merged["errors"] == {"page": "timing run: AssertionError: wrong page"}
    assert counted["phases"]["create"]["rate"] == 10.0  # inputs untouched


def test_a_package_that_crashed_stays_an_error():
    crashed = {"package": "ours", "error": "ImportError: boom"}
    assert merge_runs(crashed, []) == crashed
