"""The entity type of benchmarks/create_growth.py, shared by its CPython builder and its wasm guest.

Python 3.10 syntax: the guest imports it under Kybra's RustPython. `Item` mirrors the canister
benchmark's `bench::Item` (benchmarks/canister_wasm.py): an indexed `name` of 50 values, an Int `qty`
and the alias `sku`.
"""

from kybra_simple_db import Database, Entity, Integer, MemoryMap, String

CLOCK = 1_700_000_000_000_000_000


class Item(Entity):
    __alias__ = "sku"
    name = String(max_length=100, indexed=True)
    qty = Integer()
    sku = String(max_length=100)


def item_values(i: int) -> dict:
    return {"name": "item-" + str(i % 50), "qty": i, "sku": "sku-" + str(i)}


def open_db(data=None, audit=None) -> tuple:
    """(database, its map, its audit map) with the canister's sizes (128-byte keys, 1 KiB values)."""
    Database._instance = None
    store = MemoryMap(0, 128, 1024)
    log = MemoryMap(1, 80, 1024)
    if data is not None:
        store._data = data
        log._data = audit
    db = Database.init(audit_enabled=True, db_storage=store, db_audit=log, clock=lambda: CLOCK,
                       max_key_size=128, max_value_size=1024, audit_max_key_size=80,
                       audit_max_value_size=1024)
    return db, store, log


SEPARATOR = "\x00"      # between the keys and values of a saved map (neither holds it here)


def save(store: MemoryMap, path: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(SEPARATOR.join(k + SEPARATOR + v for k, v in store.items()))


def load(path: str) -> dict:
    """A map saved by `save` (a split, not JSON: json.loads of 100,000 entities takes minutes there)."""
    with open(path, encoding="utf-8") as f:
        items = f.read().split(SEPARATOR)
    return dict(zip(items[0::2], items[1::2]))
