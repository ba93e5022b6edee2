"""A pytest plugin for benchmarks.upstream.suites: writes {test id: passed?} to $SUITE_REPORT."""

import json
import os

_outcomes = {}


def pytest_runtest_logreport(report) -> None:
    name = report.nodeid.split("::", 1)[-1]
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _outcomes[name] = report.passed and not getattr(report, "wasxfail", False)
    elif report.when == "teardown" and report.failed:
        _outcomes[name] = False


def pytest_sessionfinish(session) -> None:
    path = os.environ.get("SUITE_REPORT")
    if path:
        with open(path, "w") as out:
            json.dump(_outcomes, out)
