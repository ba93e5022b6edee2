"""Targets of issue 2 and the results table: ours against the faster upstream package."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

UPSTREAM = ("kybra-simple-db", "ic-python-db")

Result = dict[str, Any]


def phase(result: Result | None, name: str) -> dict[str, Any] | None:
    if not result:
        return None
    return result.get("phases", {}).get(name)


def metric(result: Result | None, name: str, key: str, stat: str | None = None) -> float | None:
    data = phase(result, name)
    if data is None or key not in data:
        return None
    value = data[key]
    return value[stat] if stat else value


@dataclass(frozen=True)
class SpeedRow:
    """Operations per second; higher is better; the target is a ratio to the faster upstream."""

    label: str
    phase: str
    key: str = "rate"
    min_ratio: float | None = None

    def value(self, result: Result | None) -> float | None:
        return metric(result, self.phase, self.key)


@dataclass(frozen=True)
class CountRow:
    """Storage calls of a typical operation of the phase (the median), and of the worst one.

    Targets are judged on the typical operation; the worst shows one-time work, such as
    registering a type on its first create, and growth, such as a document rewritten per link.
    """

    label: str
    phase: str
    counter: str
    ceiling: int | None = None

    def value(self, result: Result | None) -> float | None:
        return metric(result, self.phase, self.counter, "median")

    def worst(self, result: Result | None) -> float | None:
        return metric(result, self.phase, self.counter, "max")

    def cell(self, result: Result | None) -> str:
        typical, worst = self.value(result), self.worst(result)
        if typical is None or worst is None or worst == typical:
            return fmt(typical)
        return f"{fmt(typical)} (max {fmt(worst)})"


SPEED_ROWS = [
    SpeedRow("create (all)", "create", min_ratio=10.0),
    SpeedRow("create (first block)", "create", "first_rate"),
    SpeedRow("create (last block)", "create", "last_rate"),
    SpeedRow("get by id, cold", "get_by_id", min_ratio=2.0),
    SpeedRow("get by alias, cold", "get_by_alias", min_ratio=2.0),
    SpeedRow("update one field", "update", min_ratio=2.0),
    SpeedRow("delete", "delete", min_ratio=2.0),
    SpeedRow("page of 100, half deleted", "page"),
    SpeedRow("link", "link"),
    SpeedRow("unlink", "unlink"),
]

COUNT_ROWS = [
    CountRow("create: writes", "create", "writes", 5),
    CountRow("create: bytes written", "create", "bytes_written"),
    CountRow("get by id: reads", "get_by_id", "reads"),
    CountRow("get by id: writes", "get_by_id", "writes", 0),
    CountRow("get by alias: reads", "get_by_alias", "reads"),
    CountRow("get by alias: writes", "get_by_alias", "writes", 0),
    CountRow("update one field: writes", "update", "writes", 3),
    CountRow("update one field: bytes written", "update", "bytes_written"),
    CountRow("delete: writes", "delete", "writes"),
    CountRow("page of 100: reads", "page", "reads", 150),
    CountRow("page of 100: writes", "page", "writes"),
    CountRow("link: writes", "link", "writes", 3),
    CountRow("link: bytes written", "link", "bytes_written"),
    CountRow("unlink: writes", "unlink", "writes", 3),
]


@dataclass
class Check:
    """One target and whether ours met it."""

    name: str
    target: str
    measured: str
    met: bool | None  # None: could not be measured


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _times(ratio: float | None, digits: int = 1) -> str:
    return "n/a" if ratio is None else f"{ratio:,.{digits}f}x"


def faster_upstream(results: dict[str, Result], row: SpeedRow) -> tuple[str | None, float | None]:
    best: tuple[str | None, float | None] = (None, None)
    for name in UPSTREAM:
        value = row.value(results.get(name))
        if value is not None and (best[1] is None or value > best[1]):
            best = (name, value)
    return best


def speed_checks(results: dict[str, Result]) -> list[Check]:
    checks = []
    ours = results.get("ours")
    for row in SPEED_ROWS:
        if row.min_ratio is None:
            continue
        mine, (_, theirs) = row.value(ours), faster_upstream(results, row)
        ratio = mine / theirs if mine and theirs else None
        met = None if ratio is None else ratio >= row.min_ratio
        checks.append(Check(row.label, f">= {row.min_ratio:g}x faster upstream", _times(ratio, 2), met))
    first, last = metric(ours, "create", "first_rate"), metric(ours, "create", "last_rate")
    ratio = last / first if first and last else None
    met = None if ratio is None else ratio >= 0.75
    checks.append(
        Check("create: last block rate / first", ">= 0.75x (at most 25% slower)", _times(ratio, 2), met)
    )
    return checks


def count_checks(results: dict[str, Result]) -> list[Check]:
    ours = results.get("ours")
    checks = []
    for row in COUNT_ROWS:
        if row.ceiling is None:
            continue
        value = row.value(ours)
        met = None if value is None else value <= row.ceiling
        wanted = f"<= {row.ceiling}" if row.ceiling else "0"
        checks.append(Check(row.label, wanted, row.cell(ours), met))
    m2m = phase(ours, "m2m_capped")
    if m2m is None:
        checks.append(Check("ManyToMany, 1,000-byte values", "all links", "n/a", None))
    else:
        measured = f"{m2m['links_done']:,} of {m2m['links_requested']:,}"
        checks.append(Check("ManyToMany, 1,000-byte values", "all links", measured, bool(m2m["ok"])))
    return checks


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows]


def label_of(name: str, results: dict[str, Result]) -> str:
    version = (results.get(name) or {}).get("version")
    return f"{name} {version}" if version else name


def _cells(results: dict[str, Result], names: list[str], value: Callable[[Result | None], Any], digits=0):
    return [fmt(value(results.get(n)), digits) for n in names]


def render(results: dict[str, Result]) -> str:
    """The markdown tables: speed, storage calls, the capped ManyToMany, and targets met or missed."""
    names = [n for n in ("ours", *UPSTREAM) if n in results]
    heads = [label_of(n, results) for n in names]
    out: list[str] = []
    speed = []
    for row in SPEED_ROWS:
        _, theirs = faster_upstream(results, row)
        mine = row.value(results.get("ours"))
        ratio = _times(mine / theirs if mine and theirs else None)
        speed.append([row.label, *_cells(results, names, row.value), ratio])
    out.append("Operations per second of CPU time (higher is better):\n")
    out += _table(["operation", *heads, "ours / faster upstream"], speed)
    counts = [[row.label, *[row.cell(results.get(n)) for n in names]] for row in COUNT_ROWS]
    out.append("\nStorage calls per operation, typical (max) in the phase (lower is better):\n")
    out += _table(["per operation", *heads], counts)
    m2m = []
    for n in names:
        data = phase(results.get(n), "m2m_capped")
        if data is None:
            m2m.append([label_of(n, results), "n/a", "n/a", (results.get(n) or {}).get("error", "")])
            continue
        done = f"{data['links_done']:,} of {data['links_requested']:,}"
        m2m.append([label_of(n, results), done, fmt(data["bytes_written"]["max"]), data["error"] or "ok"])
    out.append("\nManyToMany on one entity, values capped at 1,000 bytes:\n")
    out += _table(["package", "links made", "max bytes written per link", "result"], m2m)
    checks = speed_checks(results) + count_checks(results)
    rows = [
        [c.name, c.target, c.measured, {True: "met", False: "MISSED", None: "n/a"}[c.met]] for c in checks
    ]
    out.append("\nTargets (issue 2):\n")
    out += _table(["target", "wanted", "ours", "status"], rows)
    errors = [
        f"- {label_of(n, results)}, {where}: {msg}"
        for n in names
        for where, msg in ((results.get(n) or {}).get("errors") or {}).items()
    ]
    if errors:
        out.append("\nPhase errors (a failure is a result):\n")
        out += errors
    return "\n".join(out) + "\n"
