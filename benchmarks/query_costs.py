"""Ordered-index and query costs in storage calls (deterministic): `python -m benchmarks.query_costs
[--n 100000]`.

Creates `n` entities with three indexed fields (one operation each, as canister calls are), updates a
tenth of them, then reads pages of 100 by range and in order from a cold cache, and prints the storage
reads and writes per operation next to the targets of issue 11: the writes of each indexed field (its
B+tree nodes and its counts per value: value_counts.py) and the reads of `count_by` for one value.
"""

import random
import re
import sys
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "canister" / "src"))

from kybra_simple_db import Database, Entity, Float, Integer, MemoryMap, String, type_registry  # noqa: E402
from kybra_simple_db.ordered_keys import tree  # noqa: E402

FIELDS = ("name", "age", "score")
INDEXED_FIELDS = len(FIELDS)
# ordered-index nodes `<tc>^<field>...`; value counts: count trees `<tc>+<field>...` (value_counts.py) and
# per-value count keys `<tc>=<field>...` (long Text values, and indexes stored before count trees)
_INDEX_KEY = re.compile(r"^[0-9]+([\^=+])([A-Za-z_][A-Za-z0-9_]*)")


class KeyCountingMap(MemoryMap):
    """A MemoryMap that counts reads and writes, and the writes of each indexed field's B+tree nodes
    and value counts apart."""

    def __init__(self, **sizes):
        super().__init__(**sizes)
        self.reset()

    def reset(self) -> None:
        self.reads = 0
        self.writes = 0
        self.field_writes = {}      # (field, "index" or "count") -> writes

    @property
    def index_writes(self) -> int:
        return sum(n for (_, kind), n in self.field_writes.items() if kind == "index")

    @property
    def count_writes(self) -> int:
        return sum(n for (_, kind), n in self.field_writes.items() if kind == "count")

    def get(self, key):
        self.reads += 1
        return super().get(key)

    def contains_key(self, key):
        self.reads += 1
        return super().contains_key(key)

    def _wrote(self, key: str) -> None:
        self.writes += 1
        found = _INDEX_KEY.match(key)
        if found:
            slot = (found.group(2), "index" if found.group(1) == "^" else "count")
            self.field_writes[slot] = self.field_writes.get(slot, 0) + 1

    def insert(self, key, value):
        self._wrote(key)
        return super().insert(key, value)

    def remove(self, key):
        self._wrote(key)
        return super().remove(key)


def _define():
    type_registry.clear()

    class Person(Entity):
        name = String(indexed=True)
        age = Integer(indexed=True)
        score = Float(indexed=True)
        city = String()

    return Person


def _row(rng: random.Random, i: int) -> dict:
    return {"name": f"n{rng.randrange(10**6):06d}", "age": rng.randrange(100), "score": rng.random() * 1000,
            "city": f"c{i % 50}"}


def _per_op(field_writes: dict, field: str, ops: int) -> tuple:
    """(B+tree node writes, value count writes) of `field` per operation."""
    return field_writes.get((field, "index"), 0) / ops, field_writes.get((field, "count"), 0) / ops


def _cold_reads(storage: KeyCountingMap, Person, fn) -> tuple:
    Database.init(db_storage=storage, audit_enabled=False)
    Person.count()
    storage.reset()
    result = fn()
    return storage.reads, storage.writes, result


def measure(n: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    storage = KeyCountingMap(max_key_size=128, max_value_size=1024)     # the canister's db map sizes
    Database.init(db_storage=storage, audit_enabled=False)
    Person = _define()
    storage.reset()
    tail = max(1, n // 10)
    tail_reads = 0
    for i in range(n):
        if i == n - tail:
            tail_reads = storage.reads
        Person(**_row(rng, i))
    create_index_writes = storage.index_writes
    create_count_writes = storage.count_writes
    create_fields = dict(storage.field_writes)
    tail_reads = storage.reads - tail_reads
    db = Database.get_instance()
    tc = db.type_code("Person")
    heights = {f: tree(db, tc, f, db.key_generations(Person, tc)["^" + f]).header()["h"]
               for f in ("name", "age", "score")}
    updates = max(1, n // 10)
    storage.reset()
    for _ in range(updates):
        person = Person.load(rng.randrange(1, n + 1))
        person.update_fields({"name": f"n{rng.randrange(10**6):06d}", "age": rng.randrange(100),
                              "score": rng.random() * 1000})
    update_index_writes = storage.index_writes
    update_count_writes = storage.count_writes
    update_fields = dict(storage.field_writes)
    by_field = {f: {"create": _per_op(create_fields, f, n), "update": _per_op(update_fields, f, updates)}
                for f in FIELDS}
    sample = Person.load(n // 2)
    count_by = {}
    for field in FIELDS:
        value = getattr(sample, field)
        reads, _, counted = _cold_reads(storage, Person, lambda f=field, v=value: Person.count_by(f, v))
        count_by[field] = (value, counted, reads)
    pages = {
        "age >= 50 order by age, page of 100": Person.query().where(age__gte=50).order_by("age"),
        "order by -score, page of 100": Person.query().order_by("-score"),
        "name startswith 'n1', page of 100": Person.query().where(name__startswith="n1"),
        "age between 20 and 30 and city == 'c7' (residual filter)":
            Person.query().where(age__between=[20, 30], city="c7"),
    }
    page_reads = {}
    for label, query in pages.items():
        reads, writes, page = _cold_reads(storage, Person, lambda q=query: q.page(100))
        second, _, page2 = _cold_reads(storage, Person, lambda q=query, c=page.next: q.page(100, c))
        page_reads[label] = (reads, second, len(page.items), len(page2.items), writes)
    count_query = Person.query().where(age__between=[10, 19])
    count_reads, _, (counted, cursor) = _cold_reads(storage, Person, count_query.count_page)
    calls = 1
    while cursor is not None:
        storage.reset()
        more, cursor = count_query.count_page(cursor)
        count_reads += storage.reads
        counted += more
        calls += 1
    return {
        "n": n,
        "heights": heights,
        "index_writes_per_field_create": create_index_writes / (n * INDEXED_FIELDS),
        "index_writes_per_field_update": update_index_writes / (updates * INDEXED_FIELDS),
        "count_writes_per_field_create": create_count_writes / (n * INDEXED_FIELDS),
        "count_writes_per_field_update": update_count_writes / (updates * INDEXED_FIELDS),
        "by_field": by_field,
        "count_by": count_by,
        "reads_per_create_last_tenth": tail_reads / tail,
        "pages": page_reads,
        "count_between": (count_reads, counted, calls),
    }


def render(result: dict) -> str:
    lines = [f"ordered indexes at n = {result['n']:,} entities (3 indexed fields; map sizes 128/1024)",
             f"  tree heights: {result['heights']}",
             f"  index writes per indexed field per create: {result['index_writes_per_field_create']:.3f}"
             "   (target <= 3)",
             f"  index writes per indexed field per update: {result['index_writes_per_field_update']:.3f}"
             "   (target <= 3)",
             "  plus value count writes per indexed field: "
             f"{result['count_writes_per_field_create']:.3f} per create, "
             f"{result['count_writes_per_field_update']:.3f} per update",
             "  writes by field, B+tree nodes + value counts (target <= 3 per create or update):"]
    for field, costs in result["by_field"].items():
        (ci, cc), (ui, uc) = costs["create"], costs["update"]
        lines.append(f"    {field}: create {ci:.2f} + {cc:.2f} = {ci + cc:.2f}, update {ui:.2f} + {uc:.2f} = "
                     f"{ui + uc:.2f}")
    lines.append("  storage reads per create (last tenth, all 3 trees): "
                 f"{result['reads_per_create_last_tenth']:.2f}   (O(log n): 1 + height per tree)")
    for field, (value, counted, reads) in result["count_by"].items():
        lines.append(f"  count_by({field!r}, {value!r}) = {counted}: {reads} reads (cold)   (O(log n))")
    for label, (reads, second, items, items2, writes) in result["pages"].items():
        lines.append(f"  {label}: {reads} reads for {items} items, next page {second} reads for "
                     f"{items2} items, {writes} writes   (target <= 120 reads)")
    reads, count, calls = result["count_between"]
    lines.append(f"  count(age between 10 and 19) = {count} from the index alone: {reads} reads in {calls} "
                 "calls (at most 5,000 entries per call)")
    return "\n".join(lines)


@click.command()
@click.option("--n", default=100_000, show_default=True, help="entities to create")
def main(n: int) -> None:
    """Print the ordered-index and query storage costs."""
    click.echo(render(measure(n)))


if __name__ == "__main__":
    main()
