"""One deterministic random workload over the canister source in SB_SRC, printed as a JSON trace (each
message's reply, the certified data, a digest of every map after it, and the maps at the end), for
same_bytes.py to compare between two versions of the source. Configured by environment variables (so it
also runs under Kybra's RustPython, whose runner passes no arguments): SB_MODE "service" (DbApi on memory
maps: creates, updates, batches failing part-way, links, transfers, deletes, counts crossing the
value-count thresholds both ways, schema changes turning certification on and off, dump and restore,
upgrades), "engine" (the engine alone: hooks, a subclass, custom ids, relations named in a create, checked
creates and updates, units rolled back, restarts over the same maps) or "index" (ordered indexes and their
counts per value alone on small nodes: odd texts, equal Int and Float values, Bool, long Text prefixes;
splits, merges and root changes at every level, units rolled back, caches emptied), SB_SEED, SB_STEPS,
SB_NATIVE ("0": the engine's own JSON code, as on RustPython), SB_TICK ("1": the engine's clock moves on
every read), SB_HOST ("1": the service's maps offer host functions, as main.py's do)."""

import hashlib
import json
import os
import random
import sys

ENV = os.environ
SRC = ENV["SB_SRC"]
sys.path.insert(0, SRC)

from kybra.compiler.custom_modules.principal import Principal  # noqa: E402

ADMIN = "evvln-dkyvs-32ztg-old72-roktw-evvu5-ycxvb-nvzcb-ygwyk-bl7u4-fqe"
ALICE = "mnnk5-gfqmo-4omau-3uj75-wcco3-qwour-lsvsv-tmcw3-2kwze-f6orv-yqe"
BOB = "rrkah-fqaaa-aaaaa-aaaaq-cai"
ANON = "2vxsx-fae"
# index text paths: empty, separators and other characters below " ", quotes, astral, prefixes kept for
# long text (1 KiB nodes keep 224 bytes), values at and around that edge, a few values many entities share
TEXTS = (["", "a", "b", "é", "𝄞", "\x00", "\x1e", "\x1f", "\x1d0", 'a"b', "\\", "\u2028", " ", "~", "\x7f",
          "A", "zz", "a\x01", "y" * 256, "y" * 255 + "z", "y" * 224, "y" * 223, "y" * 60, "𝄞" * 56,
          "𝄞" * 60, "é" * 112, "é" * 130] + ["Hot", "hot", "Hot2"] * 6)
INTS = [0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, -8192, -8193, 2**20 - 1, 2**20, -2**20,
        -2**20 - 1, 2**21, 2**31, 2**63 - 1, -2**63, 2**63, -2**63 - 1, 10**30, 5, 5, 5]
rng = random.Random(int(ENV.get("SB_SEED", "1")))


def load_engine():
    """The canister's modules imported afresh (what an upgrade does), JSON mode as SB_NATIVE says."""
    for name in list(sys.modules):
        if (getattr(sys.modules[name], "__file__", None) or "").startswith(SRC):
            del sys.modules[name]
    from kybra_simple_db import key_layout
    key_layout.NATIVE_JSON = key_layout.NATIVE_JSON and ENV.get("SB_NATIVE", "1") == "1"


def plain(x):
    """A reply as JSON-able data."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, Principal):
        return "P:" + x.to_str()
    if isinstance(x, (bytes, bytearray)):
        return "B:" + bytes(x).hex()
    if isinstance(x, float):
        return "F:" + repr(x)
    return x


def digest(maps: list) -> str:
    h = hashlib.sha256()
    for m in maps:
        for k, v in sorted(m._data.items()):
            h.update(repr((k, v)).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


# --- service --------------------------------------------------------------------------------------------

def fdef(name, kind, low=None, high=None, required=False, default=None, indexed=False) -> dict:
    return {"name": name, "kind": {kind: None}, "required": required, "default": default, "min": low,
            "max": high, "indexed": indexed}


def policy(certified: bool) -> dict:
    return {"read": {"Public": None}, "create": {"Anyone": None}, "modify": {"Owner": None},
            "delete": {"Owner": None}, "certified": certified}


def typedefs(variant: int) -> list:
    ix = variant % 2 == 0
    relations = [{"name": "a", "kind": {"ManyToOne": None}, "target": "d::A", "reverse": "bs",
                  "on_delete": {"SetNull": None}},
                 {"name": "m", "kind": {"ManyToMany": None}, "target": "d::A", "reverse": "bm",
                  "on_delete": {"SetNull": None}}]
    return [
        {"name": "d::A", "alias": "k", "relations": [], "policy": policy(True),
         "fields": [fdef("t", "Text", None, 256.0, indexed=True), fdef("n", "Int", indexed=True),
                    fdef("f", "Float", indexed=ix), fdef("b", "Bool", indexed=True), fdef("p", "Principal"),
                    fdef("ts", "Timestamp", indexed=ix), fdef("s", "Text", default={"Text": "dflt"}),
                    fdef("k", "Text", None, 50.0)]},
        # (B and C turn certification on and off as the variant changes: certified types change mid-run)
        {"name": "d::B", "alias": None, "policy": policy(variant % 3 == 1), "relations": relations,
         "fields": [fdef("t", "Text", None, 256.0, indexed=True),
                    fdef("n", "Int", -1000.0 if variant % 3 else None, None, variant % 4 == 3, None, ix)]},
        {"name": "C", "alias": None, "relations": [], "policy": policy(variant % 4 == 2),
         "fields": [fdef("t", "Text", indexed=True),
                    fdef("n", "Int", 0.0, 100.0, False, {"Int": 7}, not ix)]},
        {"name": "P", "alias": None, "relations": [], "policy": policy(False),
         "fields": [fdef("t", "Text", indexed=True), fdef("n", "Int", indexed=True)]},
    ]


FIELDS = {"d::A": ["t", "n", "f", "b", "p", "ts", "s", "k"], "d::B": ["t", "n"], "C": ["t", "n"]}
TYPES = list(FIELDS)
PULSED = [f"v{i:02d}-" + "w" * size for i, size in zip(range(24), [0, 3, 45, 50] * 6)]
PULSED += ["", "\x01c", "x" * 60]


def value_for(name: str) -> dict:
    r = rng.random()
    if r < 0.04:
        return {"Null": None}
    if r < 0.07:    # of another kind
        return rng.choice([{"Int": 1}, {"Text": "q"}, {"Bool": True}, {"Float": 1.0}])
    if name in ("t", "s"):
        return {"Text": rng.choice(TEXTS)}
    if name == "k":
        return {"Text": rng.choice(["k1", "k2", "k3", "k" * 60, "", "é", "k1"])}
    if name == "n":
        return {"Int": rng.choice(INTS + list(range(8)))}
    if name == "f":
        return {"Float": rng.choice([0.0, -0.0, 1.5, -2.5, 1e308, 5e-324, 3.0, float("inf"), float("nan")])}
    if name == "b":
        return {"Bool": rng.random() < 0.5}
    if name == "p":
        return {"Principal": Principal.from_str(rng.choice([ALICE, BOB, ANON, "aaaaa-aa"]))}
    return {"Timestamp": rng.choice([0, 1, 2**63, 2**64 - 1, 2**64, -1])}


def some_fields(type_name: str) -> list:
    if rng.random() < 0.35:
        return [{"name": "t", "value": {"Text": rng.choice(["Hot", "hot", "Hot2"])}}]
    names = [n for n in FIELDS[type_name] if rng.random() < 0.5]
    if rng.random() < 0.03:
        names.append(rng.choice(["nope", "_id", "bs", "t"]))
    rng.shuffle(names)
    return [{"name": n, "value": value_for(n)} for n in names]


def create_fields(type_name: str) -> list:
    fields = some_fields(type_name)
    if type_name == "d::B" and rng.random() < 0.3:
        fields.append({"name": "a", "value": {"Int": rng.randint(1, 8)}})
    return fields


def some_id() -> int:
    r = rng.random()
    return rng.randint(1, 14) if r < 0.5 else rng.randint(1, 160) if r < 0.95 else rng.choice([0, 2**64 - 1])


def batch_op() -> dict:
    tn = rng.choice(TYPES)
    k = rng.random()
    if k < 0.4:
        return {"Create": {"type_name": tn, "fields": create_fields(tn)}}
    if k < 0.75:
        return {"Update": {"type_name": tn, "id": some_id(), "fields": some_fields(tn),
                           "expected_version": None if rng.random() < 0.8 else rng.randint(1, 4)}}
    if k < 0.85:
        return {"Delete": {"type_name": tn, "id": some_id()}}
    if k < 0.95:
        return {rng.choice(["Link", "Unlink"]): {"type_name": "d::B", "id": some_id(),
                                                 "relation": rng.choice(["a", "m"]),
                                                 "target_id": rng.randint(1, 8)}}
    owner = Principal.from_str(rng.choice([ALICE, BOB]))
    return {"Transfer": {"type_name": tn, "id": some_id(), "owner": owner}}


class ServiceRun:
    """DbApi on memory maps of the canister's sizes, a clock and certified data the run controls."""

    def __init__(self):
        load_engine()
        from kybra_simple_db import MemoryMap
        self.maps = {"db": (MemoryMap(0, 128, 1024), 128, 1024), "audit": (MemoryMap(1, 80, 1024), 80, 1024),
                     "meta": (MemoryMap(2, 128, 16384), 128, 16384),
                     "cert": (MemoryMap(3, 128, 1100), 128, 1100)}
        if ENV.get("SB_HOST") == "1":   # the maps offer host functions, as main.py's do (storage_contract)
            by_id = {m.memory_id: m for m, _, _ in self.maps.values()}
            for m, _, _ in self.maps.values():
                m.host_functions = (m.memory_id, lambda i, k: by_id[i].get(k),
                                    lambda i, k, v: by_id[i].insert(k, v), lambda i, k: by_id[i].remove(k),
                                    lambda i, k: by_id[i].contains_key(k))
        self.now = 1_700_000_000_000_000_000
        self.certified = b""
        self.api = self.new_api()
        self.api.install(ADMIN)
        self.variant = 0

    def new_api(self):
        import db_api

        def certify(data):
            self.certified = bytes(data)

        # (a meter, so that an upgrade's post_upgrade reads ahead as on the IC: DbApi.warm)
        return db_api.DbApi(self.maps, clock=lambda: self.now, principal=Principal.from_str,
                            set_certified_data=certify, data_certificate=lambda: b"C:" + self.certified,
                            meter=lambda: 0)

    def upgrade(self) -> None:
        load_engine()
        self.api = self.new_api()
        self.api.after_upgrade()

    def pulse(self):
        """Creates, deletes or moves up to 50 entities of one value of P (in a batch that may fail): the
        value's count crosses HEAVY and LIGHT both ways."""
        api = self.api
        value = rng.choice(PULSED[:4] + PULSED[-3:]) if rng.random() < 0.8 else rng.choice(PULSED)
        name = "t" if rng.random() < 0.8 else "n"
        given = {"Text": value} if name == "t" else {"Int": rng.choice([0, -1, 64, 2**40, -(2**62)])}
        request = {"type_name": "P", "filters": [{"field": name, "op": {"Eq": None}, "values": [given]}],
                   "order": None, "cursor": None, "limit": 100}
        page = api.query(ADMIN, request)
        ids = [e["id"] for e in page["Ok"]["items"]] if "Ok" in page else []
        many = rng.choice([1, 5, 20, 40, 50])
        k = rng.random()
        if k < 0.45:
            fields = [{"name": name, "value": given}]
            ops = [{"Create": {"type_name": "P", "fields": fields}} for _ in range(many)]
        elif k < 0.75:
            ops = [{"Delete": {"type_name": "P", "id": i}} for i in ids[:many]]
        else:
            moved = [{"name": "t", "value": {"Text": rng.choice(PULSED)}}] if name == "t" else [
                {"name": "n", "value": {"Int": rng.choice([0, 64])}}]
            ops = [{"Update": {"type_name": "P", "id": i, "fields": moved, "expected_version": None}}
                   for i in ids[:many]]
        if rng.random() < 0.2:
            ops.insert(rng.randint(0, len(ops)), {"Update": {"type_name": "C", "id": 10**6, "fields": [],
                                                             "expected_version": None}})
        return [len(ids), api.batch(ADMIN, ops) if ops else None, api.count(ADMIN, "P", [
            {"name": name, "value": given}])]

    def reads(self, caller: str, tn: str):
        """The read endpoints and filters the cost cuts touch: list pages (with an equality filter), link
        pages, queries and counts with every operator, audit pages, certified lists, upserts, stepwise
        deletes."""
        api = self.api
        k = rng.random()
        if k < 0.2:
            name = rng.choice(["t", "n"])
            filters = [{"name": name, "value": value_for(name)}] * (rng.random() < 0.5)
            return api.list_page(caller, tn, filters, rng.choice([None, None, some_id()]), rng.randint(1, 60))
        if k < 0.35:
            if rng.random() < 0.7:   # the reverse sets of the A's that B's link to (many ids)
                return api.links(caller, "d::A", rng.randint(1, 8), rng.choice(["bs", "bm"]),
                                 rng.choice([None, rng.randint(0, 60)]), rng.randint(1, 5))
            return api.links(caller, "d::B", some_id(), rng.choice(["a", "m"]), rng.choice([None, 2]),
                             rng.randint(1, 5))
        if k < 0.7:
            filters = []
            for _ in range(rng.randint(0, 3)):
                name = rng.choice(FIELDS[tn])
                op = rng.choice(["Eq", "Ne", "Lt", "Le", "Gt", "Ge", "Between", "In", "StartsWith"])
                count = 2 if op == "Between" else rng.randint(1, 4) if op == "In" else 1
                values = [value_for(name) for _ in range(count)]
                filters.append({"field": name, "op": {op: None}, "values": values})
            order = None if rng.random() < 0.3 else {"field": rng.choice(["t", "n", "id"]),
                                                     "descending": rng.random() < 0.5}
            request = {"type_name": tn, "filters": filters, "order": order, "cursor": None,
                       "limit": rng.randint(1, 40)}
            if rng.random() < 0.3:
                return api.query_count(caller, request)
            page = api.query(caller, request)
            cursor = page.get("Ok", {}).get("next")
            if cursor is not None and rng.random() < 0.5:
                request["cursor"] = cursor
                return [page, api.query(caller, request)]
            return page
        if k < 0.8:
            end = rng.choice([None, rng.randint(0, 400)])
            return api.audit(caller, rng.randint(0, 50), end, rng.randint(1, 30))
        if k < 0.87:
            cursor = rng.choice([None, some_id()])
            return api.list_certified(caller, rng.choice(["d::A", "d::B", "C"]), cursor, rng.randint(1, 30))
        if k < 0.94:
            alias = {"Text": rng.choice(["k1", "k2", "k3", "k4"])}
            return api.upsert(caller, "d::A", alias, some_fields("d::A"))
        return api.delete_continue(caller, tn, some_id())

    def message(self):
        api = self.api
        caller = rng.choice([ALICE, ALICE, ALICE, BOB, BOB, ADMIN, ANON])
        tn = rng.choice(TYPES)
        k = rng.random()
        if k < 0.25:
            return api.create(caller, tn, create_fields(tn))
        if k < 0.42:
            expected = None if rng.random() < 0.8 else rng.randint(1, 4)
            return api.update(caller, tn, some_id(), some_fields(tn), expected)
        if k < 0.50:
            return api.get(caller, tn, some_id())
        if k < 0.55:
            return api.delete(caller, tn, some_id())
        if k < 0.62:
            ops = [batch_op() for _ in range(rng.randint(1, 5))]
            if rng.random() < 0.3:     # fails at its end
                ops.append({"Update": {"type_name": "C", "id": 1, "expected_version": None,
                                       "fields": [{"name": "n", "value": {"Int": -5}}]}})
            return api.batch(caller, ops)
        if k < 0.65:
            fn = api.link if rng.random() < 0.6 else api.unlink
            return fn(caller, "d::B", some_id(), rng.choice(["a", "m"]), rng.randint(1, 8))
        if k < 0.68:
            name = rng.choice(["t", "n"])
            return api.count(caller, tn, [{"name": name, "value": value_for(name)}])
        if k < 0.71:
            name = rng.choice(["t", "n"])
            eq = {"field": name, "op": {"Eq": None}, "values": [value_for(name)]}
            filters = [eq] * (rng.random() < 0.5)
            order = {"field": rng.choice(["t", "n"]), "descending": rng.random() < 0.5}
            return api.query(caller, {"type_name": tn, "filters": filters, "cursor": None, "limit": 50,
                                      "order": order})
        if k < 0.73:
            return api.get_certified(caller, "d::A", some_id())
        if k < 0.74:
            return api.find(caller, "d::A", rng.choice(["k1", "k2", "nope"]))
        if k < 0.755:
            return api.transfer(caller, tn, some_id(), Principal.from_str(rng.choice([ALICE, BOB, ANON])))
        if k < 0.765:
            self.variant += 1
            return [api.define_type(ADMIN, td, True) for td in typedefs(self.variant)]
        if k < 0.775:
            self.upgrade()
            return "upgraded"
        if k < 0.785:
            page = api.dump(ADMIN, None, 20)
            text = page.get("Ok", {}).get("data")
            return [page, api.restore(ADMIN, text) if isinstance(text, str) else None]
        if k < 0.79:
            return api.rebuild_indexes(ADMIN, tn, None, 100)
        if k < 0.80:
            return api.icrc3_get_blocks(ADMIN, [{"start": rng.randint(0, 400), "length": 3}])
        if k < 0.86:
            return self.reads(caller, tn)
        if k < 0.95:
            return self.pulse()
        hot = [{"name": "t", "value": {"Text": "Hot"}}]
        return [api.create(ALICE, tn, hot) for _ in range(rng.randint(1, 12))]

    def run(self, steps: int) -> dict:
        trace = [plain(self.api.define_type(ADMIN, td, False)) for td in typedefs(0)]
        maps = [m for m, _, _ in self.maps.values()]
        for step in range(steps):
            self.now += rng.choice([0, 1, 1000, 10**9])
            before = {name: dict(m._data) for name, (m, _, _) in self.maps.items()}
            try:
                reply = self.message()
            except Exception as exc:   # a trap: the IC rolls the message back (a fresh heap here)
                reply = "TRAP " + type(exc).__name__ + ": " + str(exc)[:200]
                for name, (m, _, _) in self.maps.items():
                    m._data.clear()
                    m._data.update(before[name])
                self.upgrade()
            trace.append([step, plain(reply), self.certified.hex(), digest(maps)])
        return {"trace": trace, "final": {n: sorted(m._data.items()) for n, (m, _, _) in self.maps.items()}}


# --- engine ---------------------------------------------------------------------------------------------

class EngineRun:
    """The engine alone over two memory maps, with the classes a user of the original packages writes."""

    def __init__(self):
        load_engine()
        from kybra_simple_db import Database, MemoryMap
        self.storage = MemoryMap(memory_id=1, max_key_size=100, max_value_size=1000)
        self.audit = MemoryMap(memory_id=2, max_key_size=100, max_value_size=1000)
        self.now = 1_700_000_000_000_000_000
        self.hooks = []
        self.start = lambda: Database.init(db_storage=self.storage, db_audit=self.audit, clock=self.clock)
        self.db = self.start()
        self.classes = self.define()

    def clock(self) -> int:
        self.now += ENV.get("SB_TICK") == "1"
        return self.now

    def define(self) -> dict:
        from kybra_simple_db import (
            Entity,
            Float,
            Integer,
            ManyToMany,
            ManyToOne,
            OneToMany,
            OneToOne,
            String,
            TimestampedMixin,
            type_registry,
        )
        type_registry.clear()
        heard = self.hooks

        class Item(Entity):
            __alias__ = "sku"
            name = String(indexed=True)
            qty = Integer(indexed=True)
            sku = String()
            ratio = Float()
            note = String(default="d")

            def on_event(self, field, old, new, action):
                heard.append((self._id, field, repr(old), repr(new), action))
                if new == "hook":
                    return True, "hooked"
                if new in ("bad", 13):
                    return False
                return (True, "notanint") if new == 14 else True

        class Sub(Item):
            extra = String(indexed=True)

        class Plain(Entity):
            name = String(indexed=True)
            qty = Integer(indexed=True)

        class Owned(Entity, TimestampedMixin):
            name = String(indexed=True)

        class Parent(Entity):
            name = String(indexed=True)
            kids = OneToMany("Kid", "parent")
            buddy = OneToOne("Kid", "buddy_of")

        class Kid(Entity):
            name = String(indexed=True)
            parent = ManyToOne("Parent", "kids")
            tags = ManyToMany("Parent", "tagged")

        return {"Item": Item, "Sub": Sub, "Plain": Plain, "Owned": Owned, "Parent": Parent, "Kid": Kid}

    def load(self, cname: str, eid):
        try:
            return self.classes[cname].load(eid)
        except Exception:
            return None

    def values(self, cname: str) -> dict:
        names = ["a", "b", "Hot", "Hot", "hook", "bad", "", "é", "𝄞", "\x00", "\x1e", "y" * 300, "y" * 224]
        kw = {}
        if rng.random() < 0.8:
            kw["name"] = rng.choice(names)
        if cname in ("Item", "Sub", "Plain") and rng.random() < 0.6:
            kw["qty"] = rng.choice([0, -1, 13, 14, 64, 8192, 2**63 - 1, 10**20, 5, True, 1.5, None])
        if cname in ("Item", "Sub"):
            if rng.random() < 0.3:
                kw["sku"] = rng.choice(["s1", "s2", "s3", "hook", "bad"])
            if rng.random() < 0.2:
                kw["ratio"] = rng.choice([0.5, -0.0, 1e308, 3])
            if rng.random() < 0.1:
                kw["note"] = rng.choice(["n", None, "hook"])
        if cname == "Sub" and rng.random() < 0.5:
            kw["extra"] = rng.choice(names)
        if cname == "Kid" and rng.random() < 0.4:
            kw["parent"] = self.load("Parent", rng.randint(1, 6))
        if cname == "Kid" and rng.random() < 0.2:
            kw["tags"] = [p for p in (self.load("Parent", rng.randint(1, 6)),) if p is not None]
        if cname == "Parent" and rng.random() < 0.2:
            kw["kids"] = [k for k in (self.load("Kid", rng.randint(1, 8)),) if k is not None]
        if rng.random() < 0.05:
            kw["_id"] = rng.choice([3, 50, "peter", "7", 0, -1, True, ""])
        return kw

    def in_unit(self, change):
        db = self.db
        mark = db.begin()
        try:
            out = change()
        except BaseException:
            db.end(mark, False)
            raise
        db.end(mark, True)
        return out

    def change(self, kind: str, cname: str):
        cls = self.classes[cname]

        def view(e):
            return None if e is None else [e._id, repr(sorted(e._data.items())), e._meta.get("v")]

        if kind == "create":
            return view(cls(**self.values(cname)))
        declared = {k: v for k, v in self.values(cname).items() if k in cls.__fields__}
        if kind == "create_checked":
            return view(self.in_unit(lambda: cls.create_checked(declared)))
        entity = self.load(cname, rng.randint(1, 12) if rng.random() < 0.6 else rng.randint(1, 200))
        if entity is None or kind == "load":
            return view(entity)
        if kind == "set":
            setattr(entity, rng.choice(list(cls.__fields__)), rng.choice(["a", "hook", "bad", 13, 5, None]))
        elif kind == "update_fields":
            entity.update_fields(declared, rng.choice([None, None, entity._meta.get("v"), 99]))
        elif kind == "update_checked":
            self.in_unit(lambda: entity.update_checked(declared))
        elif kind == "delete":
            entity.delete()
            return "deleted"
        return view(entity)

    def message(self):
        from kybra_simple_db.context import set_caller_id
        set_caller_id(rng.choice(["alice", "alice", "bob"]))
        kind = rng.choice(["create", "create", "create", "create_checked", "load", "set", "set",
                           "update_fields", "update_fields", "update_checked", "delete", "unit",
                           "failed unit", "many"]
                          + ["restart"] * (rng.random() < 0.2))
        cname = rng.choice(list(self.classes))
        if kind == "restart":
            self.db = self.start()
            return "restarted"
        if kind == "many":
            return [self.change("create", "Plain") for _ in range(rng.randint(5, 40))]
        if kind in ("unit", "failed unit"):
            def changes():
                out = [self.change(rng.choice(["create", "create", "set", "update_fields", "delete"]),
                                   rng.choice(list(self.classes))) for _ in range(rng.randint(1, 4))]
                if kind == "failed unit":
                    raise KeyError("rolled back")
                return out
            return self.in_unit(changes)
        return self.change(kind, cname)

    def run(self, steps: int) -> dict:
        trace = []
        for step in range(steps):
            self.now += rng.choice([0, 1, 10**9])
            self.hooks.clear()
            try:
                reply = repr(self.message())
            except Exception as exc:
                reply = "ERR " + type(exc).__name__ + ": " + str(exc)[:150]
            trace.append([step, reply, list(self.hooks), digest([self.storage, self.audit])])
        final = [sorted(self.storage._data.items()), sorted(self.audit._data.items())]
        return {"trace": trace, "final": final}


# --- index ----------------------------------------------------------------------------------------------

# values of one ordered index: separators, escapes and tags inside text, empty text, prefixes kept for long
# text at small node sizes, equal Int and Float values (1 == 1.0, 0 == -0.0), Bool, big ints
INDEX_VALUES = (["", "a", "ab", "a\x1e", "\x1d", "\x1d0", "\x1f1", "é", "𝄞", "a b", "a\x1f", "s", "i1",
                 "L", "I", ",", "\x1c", "a ", "a!", "b", "z" * 40, "z" * 39 + "y", "y" * 60, "y" * 61,
                 "𝄞" * 20, "é" * 30, "é" * 29 + "e", "\x00" * 5]
                + [0, 1, -1, 2**53, 2**53 + 1, 10**30, -(10**30), 7, 64]
                + [0.0, -0.0, 1.0, 1.5, 2.0**53, float(10**30), 1e308, -2.5, 7.0]
                + [True, False])
HOT_VALUES = ["h", "h\x1e", "", 7, 7.0, "y" * 61, "hh", "𝄞" * 20, True, 0.0]
HEAVY_TEXTS = [f"k{i:02d}" for i in range(30)] + [False, True]   # many heavy values: a deep count tree


class IndexRun:
    """Ordered indexes and their counts per value alone (ordered_keys.move_entry, value_counts.count), on
    small nodes (deep trees: splits, merges and root changes at every level), with units rolled back and
    the heap's caches emptied (what an upgrade does)."""

    def __init__(self):
        load_engine()
        from kybra_simple_db import Database, MemoryMap
        size = rng.choice([160, 200, 256, 400, 1024])
        self.storage = MemoryMap(memory_id=1, max_key_size=120, max_value_size=size)
        self.db = Database(audit_enabled=False, db_storage=self.storage)
        self.entries = {}   # (field number, id) -> value
        self.next_id = 1

    def move(self, field: int, eid: int, new):
        from kybra_simple_db import ordered_keys
        old = self.entries.get((field, eid))
        out = ordered_keys.move_entry(self.db, 1, "f" + str(field), 0, eid, old, new, "v")
        if new is None:
            self.entries.pop((field, eid), None)
        else:
            self.entries[(field, eid)] = new
        return out

    def value(self):
        return rng.choice(HOT_VALUES) if rng.random() < 0.4 else rng.choice(INDEX_VALUES)

    def change(self):
        field = rng.randint(0, 1)
        k = rng.random()
        present = [eid for f, eid in self.entries if f == field]
        if k < 0.45 or not present:
            eid = self.next_id if rng.random() < 0.8 else rng.randint(1, self.next_id + 5)
            self.next_id = max(self.next_id, eid + 1)
            return self.move(field, eid, self.value())
        eid = rng.choice(present)
        if k < 0.75:
            return self.move(field, eid, self.value())
        return self.move(field, eid, None)

    def many(self):
        """One value gains or loses many entries (its count crosses HEAVY and LIGHT both ways)."""
        field = rng.randint(0, 1)
        value = rng.choice(HOT_VALUES) if rng.random() < 0.5 else rng.choice(HEAVY_TEXTS)
        out = []
        if rng.random() < (0.55 if value in HOT_VALUES else 0.8):     # (heavy values pile up)
            for _ in range(rng.randint(10, 70) if value in HOT_VALUES else rng.randint(60, 130)):
                out.append(self.move(field, self.next_id, value))
                self.next_id += 1
        else:
            holders = [eid for (f, eid), v in self.entries.items()
                       if f == field and type(v) is type(value) and v == value]
            for eid in holders[:rng.randint(5, 60)]:
                out.append(self.move(field, eid, rng.choice([None, self.value()])))
        return out

    def drain(self):
        """Many entries of one field go (the tree shrinks: merges, emptied nodes, a lower root)."""
        field = rng.randint(0, 1)
        present = sorted(eid for f, eid in self.entries if f == field)
        if not present:
            return []
        start = rng.randint(0, len(present) - 1)
        return [self.move(field, eid, None) for eid in present[start:start + rng.randint(20, 150)]]

    def raw(self):
        """An entry inserted again or one removed that is not there: nothing changes (False)."""
        from kybra_simple_db import ordered_keys
        field = rng.randint(0, 1)
        index = ordered_keys.tree(self.db, 1, "f" + str(field), 0)
        present = [(eid, v) for (f, eid), v in self.entries.items() if f == field]
        if present and rng.random() < 0.5:
            eid, value = rng.choice(present)
            return index.insert(value, eid)
        value = self.value()
        eid = rng.randint(1, self.next_id + 3)
        if self.entries.get((field, eid)) == value and type(self.entries.get((field, eid))) is type(value):
            return None
        if self.entries.get((field, eid)) == value:   # an equal value of another kind (1 == 1.0)
            return None
        return index.remove(value, eid)

    def unit(self, work, fail: bool):
        db = self.db
        saved = dict(self.entries), self.next_id
        mark = db.begin()
        try:
            out = work()
        except BaseException:
            db.end(mark, False)
            self.entries, self.next_id = saved
            raise
        if fail:
            db.end(mark, False)
            self.entries, self.next_id = saved
            return ["rolled back", out]
        db.end(mark, True)
        return out

    def reads(self):
        from kybra_simple_db import ordered_keys, value_counts
        db = self.db
        out = []
        for field in (0, 1):
            index = ordered_keys.tree(db, 1, "f" + str(field), 0)
            for value in rng.sample(HOT_VALUES, 3) + rng.sample(INDEX_VALUES, 3):
                out.append(value_counts.count(db, 1, "f" + str(field), 0, value))
            out.append(index.count_value(rng.choice(INDEX_VALUES), 100))
            start = rng.choice([None, ("b",), (1, 1.5), (2, "a\x1e", 5)])
            walked = []
            for entry in index.walk(None if start is None else (
                    (2, start[0]) if len(start) == 1 else start), True, rng.random() < 0.5):
                walked.append(repr(entry))
                if len(walked) >= 30:
                    break
            out.append(walked)
            out.append(index.check())
        return out

    def read_ahead(self):
        """What post_upgrade reads ahead (restart_warmup.py), in a revision that has it: both indexes' and
        count trees' inner nodes, then the tail hints (nothing a reply or a stored byte may show)."""
        from kybra_simple_db import ordered_index
        if not hasattr(ordered_index, "warm_tails"):
            return
        get = self.db.cached_reader()
        for field in (0, 1):
            for prefix in ("1^f" + str(field), "1+f" + str(field)):
                queue = [(prefix, -1)]
                while queue:
                    queue += ordered_index.warm_node(get, *queue.pop())
            ordered_index.warm_tails(get, "1^f" + str(field), 10**6, lambda: 0, 1)

    def message(self):
        from kybra_simple_db import ordered_index
        k = rng.random()
        if k < 0.03:
            ordered_index.forget_cached()
            self.db.forget_cached()
            self.read_ahead()
            return "forgot"
        if k < 0.06:
            load_engine()
            from kybra_simple_db import Database
            self.db = Database(audit_enabled=False, db_storage=self.storage)
            self.read_ahead()
            return "restarted"
        if k < 0.12:
            return self.reads()
        if k < 0.15:
            return self.unit(self.raw, False)
        if k < 0.20:
            return self.unit(lambda: [self.change() for _ in range(rng.randint(1, 6))], rng.random() < 0.5)
        if k < 0.22:
            return self.unit(self.drain, rng.random() < 0.2)
        if k < 0.40:
            return self.unit(self.many, rng.random() < 0.3)
        return self.unit(self.change, False)

    def run(self, steps: int) -> dict:
        trace = []
        for step in range(steps):
            try:
                reply = repr(self.message())
            except Exception as exc:
                reply = "ERR " + type(exc).__name__ + ": " + str(exc)[:150]
            trace.append([step, reply, [], digest([self.storage])])
        return {"trace": trace, "final": [sorted(self.storage._data.items())]}


# (a script only, run as such also by RustPython's runner, which names it otherwise than __main__)
MODE = ENV.get("SB_MODE", "service")
workload = ServiceRun() if MODE == "service" else IndexRun() if MODE == "index" else EngineRun()
json.dump(workload.run(int(ENV.get("SB_STEPS", "500"))), sys.stdout, default=repr)
