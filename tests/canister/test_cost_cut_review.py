"""Attacks on the cost cuts of issue 14's last pass (service layer on memory maps, as the canister runs it):
the engine no longer validates what the service checked (Entity.create_checked / update_checked), replies
are built from the entity's live data, the audit capture hashes block bodies as entries are recorded, and
ordered-index inserts take a text fast path. Each test drives the public DbApi methods and compares what
is stored with what the engine's own validation, the stored audit entries and a model say."""

import json
import random
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kybra.compiler.custom_modules.principal import Principal
from kybra_simple_db import index_nodes, key_layout, type_registry
from service_maps import ADMIN, field, forget_module_caches, installed_api, stored
from simple_db_client.certified import verify_chain, verify_entity, verify_tip

from localnet.data_certificates import DataCertificates

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import api_limits  # noqa: E402
import audit_chain  # noqa: E402
import rep_hash  # noqa: E402
from certification import Certifier  # noqa: E402
from test_certified_service import CANISTER, KEYS  # noqa: E402
from undo_map import UndoMap  # noqa: E402

ALICE = "mnnk5-gfqmo-4omau-3uj75-wcco3-qwour-lsvsv-tmcw3-2kwze-f6orv-yqe"
BOB = "rrkah-fqaaa-aaaaa-aaaaq-cai"
OPEN = {"read": {"Public": None}, "create": {"Anyone": None}, "modify": {"Owner": None},
        "delete": {"Owner": None}}


# --- 1. what the service accepts, the engine's own validation accepts, unchanged ---------------------

bounds = st.one_of(st.none(), st.sampled_from([-3.5, -1.0, 0.0, 0.5, 1.0, 2.0, 2.5, 3.0, 7.9, 64.0,
                                               9.3e18, -9.3e18, 1e300]))
KIND_VALUES = {
    "Text": st.one_of(st.text(max_size=12), st.sampled_from(["", "a" * 64, "a" * 65, "\x00", "é𝄞"]))
    .map(lambda t: {"Text": t}),
    "Int": st.one_of(st.integers(-10, 10), st.sampled_from([2**63 - 1, -(2**63), 2**63, 9 * 10**18]))
    .map(lambda n: {"Int": n}),
    "Float": st.one_of(st.floats(allow_nan=False, width=64), st.sampled_from([-0.0, 2.5, 1e308]))
    .map(lambda x: {"Float": x}),
    "Bool": st.booleans().map(lambda b: {"Bool": b}),
    "Principal": st.sampled_from([ALICE, BOB, "aaaaa-aa", "2vxsx-fae"])
    .map(lambda p: {"Principal": Principal.from_str(p)}),
    "Timestamp": st.one_of(st.integers(0, 10), st.sampled_from([2**64 - 1, 2**64, -1]))
    .map(lambda n: {"Timestamp": n}),
}
field_defs = st.tuples(st.sampled_from(sorted(KIND_VALUES)), bounds, bounds, st.booleans(), st.booleans())


@st.composite
def typed_values(draw):
    """(field definitions, a list of (values to create, values to update))."""
    defs = draw(st.lists(field_defs, min_size=1, max_size=4))
    fields = []
    for i, (kind, low, high, required, indexed) in enumerate(defs):
        if kind in ("Bool", "Principal"):
            low = high = None
        fields.append(field("f" + str(i), kind, low, high, required, None, indexed))
    given = st.lists(st.tuples(st.sampled_from(range(len(fields))),
                               st.one_of(st.just({"Null": None}), *KIND_VALUES.values())), max_size=4)
    pairs = draw(st.lists(st.tuples(given, given), min_size=1, max_size=3))
    return fields, pairs


def _as_fields(fields: list, given: list) -> list:
    seen = set()
    out = []
    for index, value in given:
        name = fields[index]["name"]
        if name not in seen:
            seen.add(name)
            out.append({"name": name, "value": value})
    return out


def _engine_accepts(api, type_name: str, entity_id: int) -> None:
    """Every stored field value passes its engine property's own validation unchanged (what the engine
    checked before create_checked/update_checked), and the required ones are set."""
    entity = api.gateway._class(type_name).load(entity_id)
    for name, prop in type(entity).__fields__.items():
        value = entity._data.get(name)
        checked = prop.validate(value, name)
        assert checked == value and type(checked) is type(value), (name, value, checked)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_values())
def test_values_the_service_takes_pass_the_engine_validation_it_no_longer_runs(case):
    fields, pairs = case
    api, maps = installed_api()
    typedef = {"name": "v::T", "fields": fields, "alias": None, "relations": [], "policy": OPEN}
    if "Ok" not in api.define_type(ADMIN, typedef, False):
        return
    for create_given, update_given in pairs:
        before = stored(maps)
        created = api.create(ALICE, "v::T", _as_fields(fields, create_given))
        if "Err" in created:
            assert stored(maps) == before, created
            continue
        entity_id = created["Ok"]["id"]
        _engine_accepts(api, "v::T", entity_id)
        before = stored(maps)
        updated = api.update(ALICE, "v::T", entity_id, _as_fields(fields, update_given), None)
        if "Err" in updated:
            assert stored(maps) == before, updated
        else:
            _engine_accepts(api, "v::T", entity_id)


def test_field_names_of_the_engine_s_own_methods_are_refused_clearly():
    """A field named like an engine method (live_view, stored_meta, the checked paths) would shadow it:
    refused at define_type with an error, nothing stored, and the type stays usable under other names."""
    api, maps = installed_api()
    for name in ("live_view", "stored_meta", "update_checked", "create_checked", "view", "meta"):
        before = stored(maps)
        typedef = {"name": "v::M", "fields": [field(name, "Text")], "alias": None, "relations": [],
                   "policy": OPEN}
        reply = api.define_type(ADMIN, typedef, False)
        assert "Invalid" in reply.get("Err", {}), (name, reply)
        assert stored(maps) == before
    typedef = {"name": "v::M", "fields": [field("title", "Text")], "alias": None, "relations": [],
               "policy": OPEN}
    assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    assert api.create(ALICE, "v::M", [{"name": "title", "value": {"Text": "x"}}])["Ok"]["version"] == 1


# --- 2. replies from live data: a reply never changes afterwards, a refusal leaves no trace -----------

def test_a_reply_built_from_live_data_is_not_changed_by_later_messages():
    api, _ = installed_api()
    typedef = {"name": "v::R", "fields": [field("title", "Text", indexed=True), field("n", "Int")],
               "alias": "title", "relations": [], "policy": OPEN}
    assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    first = api.create(ALICE, "v::R", [{"name": "title", "value": {"Text": "a"}}])["Ok"]
    other = api.create(ALICE, "v::R", [{"name": "title", "value": {"Text": "b"}}])["Ok"]
    snapshot = repr(first)
    updated = api.update(ALICE, "v::R", 1, [{"name": "n", "value": {"Int": 5}}], None)["Ok"]
    same = api.update(ALICE, "v::R", 1, [], None)["Ok"]      # held_view: no change
    snapshot_updated = repr(updated)
    # refused after the engine staged the change (the alias is taken): rolled back, replies unchanged
    taken = api.update(ALICE, "v::R", 1, [{"name": "title", "value": {"Text": "b"}}, {"name": "n",
                                                                                       "value": {"Int": 9}}],
                       None)
    assert "Conflict" in taken["Err"]
    ops = [{"Update": {"type_name": "v::R", "id": 1, "fields": [{"name": "n", "value": {"Int": 7}}],
                       "expected_version": None}},
           {"Update": {"type_name": "v::R", "id": 2, "fields": [{"name": "n", "value": {"Int": -1}}],
                       "expected_version": 99}}]
    assert "Conflict" in api.batch(ALICE, ops)["Err"]
    assert api.update(ALICE, "v::R", 1, [{"name": "n", "value": {"Int": 6}}], None)["Ok"]["version"] == 3
    assert repr(first) == snapshot and repr(updated) == snapshot_updated
    assert first["version"] == 1 and updated["version"] == 2 and same["version"] == 2
    got = api.get(ADMIN, "v::R", 1)["Ok"]
    assert [f["value"] for f in got["fields"]] == [{"Text": "a"}, {"Int": 6}] and got["version"] == 3
    assert api.find(ADMIN, "v::R", "b")["Ok"]["id"] == other["id"]
    assert api.find(ADMIN, "v::R", "a")["Ok"]["version"] == 3


# --- 3. the chain hashed from what was heard equals the blocks of the stored entries ------------------

class _Service:
    """A DbApi with certificates, a timer that the test runs by hand and a small delete budget."""

    def __init__(self):
        self.certified_data = b""
        self.certificates = DataCertificates(KEYS, time.time_ns)
        self.timers = 0
        self.api, self.maps = installed_api(
            set_certified_data=self._set, set_timer=self._arm,
            data_certificate=lambda: self.certificates.certificate(CANISTER, self.certified_data))

    def _set(self, data: bytes) -> None:
        self.certified_data = data

    def _arm(self) -> None:
        self.timers += 1


def _chain_is_the_stored_entries(svc: _Service) -> None:
    """Each stored block hash is rep_hash.value_hash(block_value(entry, parent)) of the stored entry, the
    tip certificate proves the last, a fresh certifier computes the same root, and every certified entity
    verifies."""
    api = svc.api
    extent = api.certifier.chain.extent()
    if extent is not None:
        first, following = extent
        assert following == api.gateway.audit_length()   # every entry chained
        phash = None
        for seq in range(first, following):
            (entry,), _ = api.gateway.audit_page(seq, seq + 1, 1)
            expected = rep_hash.value_hash(audit_chain.block_value(entry, phash))
            assert api.certifier.chain.block_hash(seq) == expected, (seq, entry)
            phash = expected
        blocks = api.icrc3_get_blocks(ADMIN, [{"start": 0, "length": 100}])["blocks"]
        verify_chain([(b["id"], b["block"]) for b in blocks],
                     *verify_tip(api.icrc3_get_tip_certificate(), CANISTER, KEYS.root_key_der))
    forget_module_caches()
    fresh = Certifier(svc.maps["cert"][0], UndoMap(svc.maps["meta"][0]), None, None)
    assert fresh.root_digest() == svc.certified_data
    if "c::Node" not in api.registry.types:
        return
    items = api.list_page(ADMIN, "c::Node", [], None, 100)["Ok"]["items"]
    for entity in items:
        certified = api.get_certified(ALICE, "c::Node", entity["id"])["Ok"]
        assert verify_entity(certified, "c::Node", entity["id"], CANISTER, KEYS.root_key_der) is not None
    # the indexes agree with the entities (deletes in steps roll units back inside a message)
    values = {e["id"]: [next(iter(f["value"].values())) for f in e["fields"]] for e in items}
    for title in {v[0] for v in values.values() if v[0] is not None} | {"a", 'q"uote'}:
        counted = api.count(ADMIN, "c::Node", [{"name": "title", "value": {"Text": title}}])["Ok"]
        assert counted == sum(1 for v in values.values() if v[0] == title), title
    request = {"type_name": "c::Node", "filters": [], "cursor": None, "limit": 100,
               "order": {"field": "n", "descending": False}}
    ordered = [e["id"] for e in api.query(ADMIN, request)["Ok"]["items"]]
    with_n = sorted((i for i in values if values[i][1] is not None), key=lambda i: (values[i][1], i))
    assert [i for i in ordered if values[i][1] is not None] == with_n


def _node_type() -> dict:
    return {"name": "c::Node", "fields": [field("title", "Text", high=40.0, indexed=True),
                                          field("n", "Int", low=-100.0, high=100.0, indexed=True)],
            "alias": None, "policy": dict(OPEN, certified=True),
            "relations": [{"name": "parent", "kind": {"ManyToOne": None}, "target": "c::Node",
                           "reverse": "children", "on_delete": {"Cascade": None}}]}


def _title(rng: random.Random) -> str:
    return rng.choice(["a", "b", 'q"uote', "back\\slash", "é", "𝄞", "x" * 40, ""])


def _message(svc: _Service, rng: random.Random, ids: list) -> None:
    """One random message of the kinds whose audit entries may be heard and then rolled back."""
    api = svc.api
    caller = rng.choice([ALICE, ALICE, BOB])
    some = rng.choice(ids) if ids else 1
    kind = rng.randrange(11)
    fields = [{"name": "title", "value": {"Text": _title(rng)}},
              {"name": "n", "value": {"Int": rng.choice([-100, -5, 0, 7, 100, 101])}}]
    if kind <= 1:
        given = fields + ([{"name": "parent", "value": {"Int": some}}] if ids and rng.random() < 0.5 else [])
        reply = api.create(caller, "c::Node", given)
        if "Ok" in reply:
            ids.append(reply["Ok"]["id"])
    elif kind == 2:
        api.update(caller, "c::Node", some, fields, rng.choice([None, None, 1, 2]))
    elif kind == 3:   # a batch that records entries, then may fail at its end (all rolled back)
        ops = [{"Create": {"type_name": "c::Node", "fields": fields}},
               {"Update": {"type_name": "c::Node", "id": some, "fields": fields[1:],
                           "expected_version": None}},
               {"Link": {"type_name": "c::Node", "id": some, "relation": "parent", "target_id": some}}]
        if rng.random() < 0.6:
            ops.append({"Update": {"type_name": "c::Node", "id": some, "expected_version": None,
                                   "fields": [{"name": "n", "value": {"Int": 1000}}]}})
        reply = api.batch(caller, ops)
        if "Ok" in reply:
            ids.append(reply["Ok"][0]["Entity"]["id"])
    elif kind == 4:
        api.link(caller, "c::Node", some, "parent", rng.choice(ids) if ids else 1)
    elif kind == 5:
        api.unlink(caller, "c::Node", some, "parent", rng.choice(ids) if ids else 1)
    elif kind == 6:
        api.delete(caller, "c::Node", ids[0] if ids and rng.random() < 0.5 else some)
    elif kind == 7:
        for _ in range(rng.randrange(1, 4)):
            api.continue_deletes()         # what the timer runs
    elif kind == 8:
        api.delete_continue(caller, "c::Node", some)
    elif kind == 9:   # a Restrict link: a cascade step that reaches the node fails (its job is blocked)
        (api.link if rng.random() < 0.5 else api.unlink)(caller, "c::Lock", 1, "nodes", some)
    else:
        forget_module_caches()
        api.after_upgrade()


@pytest.fixture(params=[True, False], ids=["native_json", "engine_json"])
def json_path(request):
    """With False, documents and audit entries are written and read by the engine's own JSON code, as on
    Kybra's RustPython (no json C code there)."""
    native = key_layout.NATIVE_JSON
    key_layout.NATIVE_JSON = native and request.param
    yield
    key_layout.NATIVE_JSON = native


def test_the_chain_equals_the_stored_entries_after_rollbacks_stepwise_deletes_and_upgrades(json_path):
    for seed in range(6):
        rng = random.Random(seed)
        svc = _Service()
        assert svc.api.define_type(ADMIN, _node_type(), False) == {"Ok": None}
        lock = {"name": "c::Lock", "fields": [field("label", "Text")], "alias": None, "policy": OPEN,
                "relations": [{"name": "nodes", "kind": {"ManyToMany": None}, "target": "c::Node",
                               "reverse": "locks", "on_delete": {"Restrict": None}}]}
        assert svc.api.define_type(ADMIN, lock, False) == {"Ok": None}
        for owner in (ALICE, BOB):
            assert "Ok" in svc.api.create(owner, "c::Lock", [{"name": "label", "value": {"Text": "l"}}])
        svc.api.gateway.db.delete_budget = 3
        ids = []
        for _ in range(14):     # a family deep enough that deletes go on in steps
            parent = [{"name": "parent", "value": {"Int": ids[-1]}}] if ids else []
            reply = svc.api.create(ALICE, "c::Node", [{"name": "title", "value": {"Text": "a"}}] + parent)
            ids.append(reply["Ok"]["id"])
        # another owner's child deep in the family (unlinked by a cascade), a lock on a node further down
        reply = svc.api.create(BOB, "c::Node", [{"name": "parent", "value": {"Int": ids[9]}}])
        ids.append(reply["Ok"]["id"])
        assert svc.api.link(ALICE, "c::Lock", 1, "nodes", ids[12]) == {"Ok": None}
        if seed % 2:   # the family's delete goes on in timer steps until the lock stops one (rolled back)
            assert svc.api.delete(ALICE, "c::Node", ids[0]) == {"Ok": None}
            for _ in range(5):
                svc.api.continue_deletes()
                _chain_is_the_stored_entries(svc)
            assert "Conflict" in svc.api.delete_continue(ALICE, "c::Node", ids[0])["Err"]
        for _ in range(40):
            _message(svc, rng, ids)
            _chain_is_the_stored_entries(svc)
        while svc.api.gateway.delete_jobs_queued():
            svc.api.continue_deletes()
            _chain_is_the_stored_entries(svc)


def test_a_refused_restore_and_a_restore_leave_the_chain_as_the_stored_entries():
    type_registry.clear()  # entity classes other tests of this process defined are not this canister's
    source = _Service()
    assert source.api.define_type(ADMIN, _node_type(), False) == {"Ok": None}
    for i in range(5):
        source.api.create(ALICE, "c::Node", [{"name": "title", "value": {"Text": _title(random.Random(i))}}])
    page = source.api.dump(ADMIN, None, 100)["Ok"]
    target = _Service()
    broken = page["data"].replace('"max_id":5', '"max_id":"five"')
    assert broken != page["data"]
    assert "Err" in target.api.restore(ADMIN, broken)
    _chain_is_the_stored_entries(target)
    assert "Ok" in target.api.restore(ADMIN, page["data"])
    _chain_is_the_stored_entries(target)
    assert "Ok" in target.api.update(ALICE, "c::Node", 2, [{"name": "n", "value": {"Int": 3}}], None)
    _chain_is_the_stored_entries(target)


# --- 4. ordered index fast paths: order and counts as a model says, warm or cold, after rollbacks -----

def test_indexed_creates_keep_order_and_counts_for_long_texts_negative_ints_and_rollbacks(json_path):
    """Texts past the index's stored prefix (many sharing it), quotes, backslashes and astral characters,
    negative and extreme Int values; batches that create and then fail (rolled back after node splits);
    upgrades between (cold heap). Counts, Eq filters and the order by each field match a model."""
    api, _ = installed_api()
    typedef = {"name": "o::T", "fields": [field("title", "Text", high=256.0, indexed=True),
                                          field("n", "Int", indexed=True)],
               "alias": None, "relations": [], "policy": OPEN}
    assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    rng = random.Random(11)
    stem = "p" * 230     # past the 224 bytes an index node keeps of a text
    texts = [stem + "a", stem + "b", stem + 'q"', stem + "\\", "é" * 120 + "x", "é" * 120 + "y", "𝄞" * 60,
             "a", 'a"', "a\\", "", "z" * 256]
    numbers = [-(2**63), -1, 0, 1, 2**63 - 1, -7, 7]
    rows = {}
    for i in range(150):
        title, n = rng.choice(texts), rng.choice(numbers)
        given = [{"name": "title", "value": {"Text": title}}, {"name": "n", "value": {"Int": n}}]
        if rng.random() < 0.25:   # a batch of creates that fails at its end: nothing of it stays
            ops = [{"Create": {"type_name": "o::T", "fields": given}} for _ in range(rng.randrange(1, 6))]
            ops.append({"Update": {"type_name": "o::T", "id": 10**9, "fields": [], "expected_version": None}})
            assert "Err" in api.batch(ALICE, ops)
        else:
            reply = api.create(ALICE, "o::T", given)
            rows[reply["Ok"]["id"]] = (title, n)
        if i % 50 == 49:
            forget_module_caches()
            api.after_upgrade()
    for title in texts:
        counted = api.count(ADMIN, "o::T", [{"name": "title", "value": {"Text": title}}])["Ok"]
        assert counted == sum(1 for r in rows.values() if r[0] == title), title[:20]
    for n in numbers:
        counted = api.count(ADMIN, "o::T", [{"name": "n", "value": {"Int": n}}])["Ok"]
        assert counted == sum(1 for r in rows.values() if r[1] == n), n
    for ordered_by in ("title", "n"):
        for descending in (False, True):
            found = []
            cursor = None
            while True:
                request = {"type_name": "o::T", "filters": [], "cursor": cursor, "limit": 100,
                           "order": {"field": ordered_by, "descending": descending}}
                page = api.query(ADMIN, request)["Ok"]
                found += [e["id"] for e in page["items"]]
                cursor = page["next"]
                if cursor is None:
                    break
            # (texts sharing the prefix an index node keeps are ordered by id among themselves: engine.md)
            key = (lambda i: (index_nodes.text_prefix(rows[i][0], 224), i)) if ordered_by == "title" else (
                lambda i: (rows[i][1], i))
            expected = sorted(rows, key=key, reverse=descending)
            assert found == expected, (ordered_by, descending)


# --- 5. page budgets: a page past its instructions still makes progress ------------------------------

def test_pages_past_their_instruction_budget_still_return_an_item_or_an_error():
    """With the message's meter already past every page budget, each page still returns at least one
    item and a cursor that moves on (no empty page with the same cursor), or says why not."""
    used = [0]
    api, _ = installed_api(meter=lambda: used[0])
    typedef = {"name": "o::P", "fields": [field("title", "Text", indexed=True)], "alias": None,
               "relations": [], "policy": OPEN}
    assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    for i in range(3):
        assert "Ok" in api.create(ALICE, "o::P", [{"name": "title", "value": {"Text": str(i)}}])
    used[0] = 10**12
    listed = api.list_page(ALICE, "o::P", [], None, 10)["Ok"]
    assert listed["items"] and listed["next"] != 0
    request = {"type_name": "o::P", "filters": [], "order": None, "cursor": None, "limit": 10}
    queried = api.query(ALICE, request)
    assert "Err" in queried or queried["Ok"]["items"], queried
    audit = api.audit(ADMIN, 0, None, 10)["Ok"]
    assert audit["items"] and audit["next"] != 0
    dumped = api.dump(ADMIN, None, 10)
    assert "Err" in dumped or '"id"' in dumped["Ok"]["data"] or dumped["Ok"]["next"] is not None
    blocks = api.icrc3_get_blocks(ADMIN, [{"start": 0, "length": 10}])
    assert blocks["blocks"], blocks


def test_a_dump_page_counts_what_its_text_will_still_cost():
    """A dump page takes no more records once the message's instructions plus what its text will still
    cost (api_limits.dump_tail of the characters so far) pass DUMP_INSTRUCTIONS, and only then."""
    used = [0]
    api, _ = installed_api(meter=lambda: used[0])
    typedef = {"name": "o::D", "fields": [field("title", "Text")], "alias": None, "relations": [],
               "policy": OPEN}
    assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    for i in range(3):
        assert "Ok" in api.create(ALICE, "o::D", [{"name": "title", "value": {"Text": str(i)}}])
    used[0] = api_limits.DUMP_INSTRUCTIONS - api_limits.dump_tail(10**6)   # room for a long text
    page = api.dump(ADMIN, None, 10)["Ok"]
    records = json.loads(page["data"])["records"]   # (entities, and a header record per type)
    assert [r["id"] for r in records if "id" in r] == [1, 2, 3] and page["next"] is None
    used[0] = api_limits.DUMP_INSTRUCTIONS - api_limits.dump_tail(1)   # the first record's text passes it
    page = api.dump(ADMIN, None, 10)["Ok"]
    assert len(json.loads(page["data"])["records"]) == 1 and page["next"] is not None


def test_a_certified_update_reads_nothing_back_from_the_meta_map():
    """Certification writes the types record into the meta map after each certified change succeeded;
    nothing undoes that write, so no undo record reads the key back from stable memory first (a stable
    read of a record that grows with the certified types, in every certified update)."""
    svc = _Service()
    api = svc.api
    assert api.define_type(ADMIN, _node_type(), False) == {"Ok": None}
    assert "Ok" in api.create(ALICE, "c::Node", [{"name": "title", "value": {"Text": "a"}}])
    meta = svc.maps["meta"][0]
    reads = []
    read = meta.get
    meta.get = lambda key: reads.append(key) or read(key)
    for n in range(3):
        assert "Ok" in api.update(ALICE, "c::Node", 1, [{"name": "n", "value": {"Int": n}}], None)
    assert reads == []
    _chain_is_the_stored_entries(svc)
