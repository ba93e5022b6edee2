"""The benchmark workload of issue 2, phase by phase, identical for every package.

Phases on one database (maps capped like the seed README, 100-byte keys and 1,000-byte values):
create n people, get by id and by alias from a cold cache, update one field, delete every
other id of a prefix, and read pages of 100 across that half-deleted prefix. Then link/unlink
on a fresh uncapped database, and a ManyToMany of `links` links on one entity on a fresh capped
database (where a package fails, the link number and the error are reported).
"""

import cProfile
import gc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Optional

from .adapters import Adapter
from .counting_map import Counters, CountingMap
from .measure import PhaseStats, run_ops

MAX_KEY_SIZE = 100
MAX_VALUE_SIZE = 1000


@dataclass
class Sizes:
    """Workload sizes; the defaults are the issue's, the smoke test uses tiny ones."""

    n: int = 10_000
    ops: int = 1_000
    block: int = 1_000
    page_size: int = 100
    link_ops: int = 1_000
    links: int = 10_000

    def validate(self) -> None:
        for name, value in asdict(self).items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.n < 2 * self.ops:
            raise ValueError(f"n ({self.n}) must be at least 2 * ops ({2 * self.ops})")
        if self.n < 2 * self.block:
            raise ValueError(f"n ({self.n}) must be at least 2 * block ({2 * self.block})")


def spread(count: int, n: int, offset: int) -> list[int]:
    """`count` distinct ids spread evenly over 1..n, shifted by `offset` to vary the sample."""
    step = n / count
    return [1 + (int(i * step) + offset) % n for i in range(count)]


def expect_person(expected_id: Callable[[Any], int]) -> Callable[[Any, Any], None]:
    def check(item: Any, person: Any) -> None:
        want = expected_id(item)
        if person is None or str(person._id) != str(want):
            raise AssertionError(f"expected person {want}, got {person!r}")

    return check


class Workload:
    """Runs every phase on one adapter and collects a JSON-ready result."""

    def __init__(
        self, adapter: Adapter, sizes: Sizes, profile_phase: Optional[str] = None, count: bool = True
    ) -> None:
        self.adapter = adapter
        self.count = count
        self.sizes = sizes
        self.profile_phase = profile_phase
        self.profiler: Optional[cProfile.Profile] = None
        self.counters = Counters()
        self.phases: dict[str, dict[str, Any]] = {}

    def _profiler_for(self, phase: str) -> Optional[cProfile.Profile]:
        if phase != self.profile_phase:
            return None
        self.profiler = cProfile.Profile()
        return self.profiler

    def _fresh_database(self, capped: bool) -> None:
        self.counters = Counters()
        limits = (MAX_KEY_SIZE, MAX_VALUE_SIZE) if capped else (None, None)
        self.adapter.open(CountingMap(self.counters, *limits), CountingMap(self.counters, *limits))

    def _record(self, phase: str, stats: PhaseStats, **extra: Any) -> None:
        summary = stats.summary()
        summary.update(extra)
        self.phases[phase] = summary

    def _ops(
        self, phase: str, items: list[Any], op: Callable[[Any], Any], check=None, marks=()
    ) -> PhaseStats:
        gc.collect()
        return run_ops(items, op, self.counters, self._profiler_for(phase), check, marks, self.count)

    def run(self) -> dict[str, Any]:
        steps = [
            ("create", self.create),
            ("get_by_id", self.get_by_id),
            ("get_by_alias", self.get_by_alias),
            ("update", self.update),
            ("delete", self.delete),
            ("page", self.page),
            ("link", self.link_unlink),
            ("m2m_capped", self.many_links),
        ]
        errors: dict[str, str] = {}
        for name, step in steps:
            if name in ("get_by_id", "get_by_alias", "update", "delete", "page") and "create" in errors:
                errors[name] = "skipped: create failed"
                continue
            try:
                step()
            except Exception as exc:  # a package's failure is a result, not a harness crash
                errors[name] = f"{type(exc).__name__}: {exc}"
        mode = "counts" if self.count else "timing"
        return {"sizes": asdict(self.sizes), "mode": mode, "phases": self.phases, "errors": errors}

    # -- phases -------------------------------------------------------------------------------
    def create(self) -> None:
        self._fresh_database(capped=True)
        s = self.sizes
        marks = (s.block, s.n - s.block)
        stats = self._ops("create", list(range(1, s.n + 1)), self.adapter.create_person, marks=marks)
        self._record(
            "create",
            stats,
            block=s.block,
            first_rate=stats.block_rate(0, s.block),
            last_rate=stats.block_rate(s.n - s.block, s.n),
        )

    def get_by_id(self) -> None:
        self.adapter.reopen()
        ids = spread(self.sizes.ops, self.sizes.n, 0)
        stats = self._ops("get_by_id", ids, self.adapter.get_by_id, expect_person(lambda i: i))
        self._record("get_by_id", stats)

    def get_by_alias(self) -> None:
        self.adapter.reopen()
        ids = spread(self.sizes.ops, self.sizes.n, 1)
        aliases = [f"person-{i}" for i in ids]
        check = expect_person(lambda alias: int(alias.rsplit("-", 1)[1]))
        stats = self._ops("get_by_alias", aliases, self.adapter.get_by_alias, check)
        self._record("get_by_alias", stats)

    def update(self) -> None:
        self.adapter.reopen()
        people = [self.adapter.get_by_id(i) for i in spread(self.sizes.ops, self.sizes.n, 2)]
        stats = self._ops("update", people, lambda p: self.adapter.update(p, 500))
        self._record("update", stats)

    def delete(self) -> None:
        """Deletes the even ids 2..2*ops, leaving a half-deleted prefix for the page phase."""
        self.adapter.reopen()
        people = [self.adapter.get_by_id(i) for i in range(2, 2 * self.sizes.ops + 1, 2)]
        stats = self._ops("delete", people, self.adapter.delete)
        self._record("delete", stats)

    def page(self) -> None:
        """Pages of `page_size` people from id 1 across the half-deleted prefix, from a cold cache."""
        self.adapter.reopen()
        size = self.sizes.page_size
        pages = max(1, self.sizes.ops // size)
        cursor = {"after": 0}
        starts = []

        def one_page(_: int) -> list:
            starts.append(cursor["after"])
            people = self.adapter.page(cursor["after"], size)
            if people:
                cursor["after"] = int(people[-1]._id)
            return people

        def check(page_no: int, people: list) -> None:
            ids = [int(p._id) for p in people]
            expected = self._live_ids_from(starts[page_no] + 1, size)
            if ids != expected:
                raise AssertionError(
                    f"page after {starts[page_no]} gave ids {ids[:5]}..., not {expected[:5]}..."
                )

        stats = self._ops("page", list(range(pages)), one_page, check)
        self._record("page", stats, page_size=size)

    def _live_ids_from(self, start: int, count: int) -> list[int]:
        """The first `count` ids >= start that the delete phase left alive."""
        deleted_up_to = 2 * self.sizes.ops
        live = (i for i in range(start, self.sizes.n + 1) if i % 2 or i > deleted_up_to)
        return [i for _, i in zip(range(count), live)]

    def link_unlink(self) -> None:
        """Links `link_ops` people to one tag, then unlinks them; uncapped maps so all can run."""
        self._fresh_database(capped=False)
        hub = self.adapter.create_tag("hub")
        people = [self.adapter.create_person(i) for i in range(1, self.sizes.link_ops + 1)]
        linked = self._ops("link", people, lambda p: self.adapter.link(hub, p))
        self._record("link", linked)
        unlinked = self._ops("unlink", people, lambda p: self.adapter.unlink(hub, p))
        self._record("unlink", unlinked)

    def many_links(self) -> None:
        """One tag with `links` people on capped maps; stops at the first failing link."""
        self._fresh_database(capped=True)
        hub = self.adapter.create_tag("hub")
        stats = PhaseStats()
        error = None
        for i in range(1, self.sizes.links + 1):
            person = self.adapter.create_person(i)
            try:
                one = run_ops([person], lambda p: self.adapter.link(hub, p), self.counters, count=self.count)
            except Exception as exc:
                error = f"link {i} failed: {type(exc).__name__}: {exc}"
                break
            stats.extend(one)
        self._record(
            "m2m_capped",
            stats,
            links_requested=self.sizes.links,
            links_done=stats.ops,
            ok=error is None,
            error=error,
        )
