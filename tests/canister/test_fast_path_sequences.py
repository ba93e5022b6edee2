"""Adversarial sequences against issue 14's fast paths and heap caches (service layer on memory maps).

Random messages (creates, updates and batches with bad values, another owner's entity, refused versions,
batches failing part-way, deletes, schema changes, upgrades) run against a model. After every message:
the replies, gets, counts and index order match the model; a fresh certifier over the same maps (an
upgrade's) computes the certified root the canister set; the ICRC-3 chain verifies under the tip
certificate and every certified entity verifies (one engine per process: upgrades are messages here).
Guards: type_shapes/DbApi._values (inline checks), the gateway's held entity, staged_store's get_known
and get_cached, audit_capture/audit_chain's heap state, entity_merkle's caches.
"""

import json
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kybra.compiler.custom_modules.principal import Principal
from kybra_simple_db import key_layout
from service_maps import ADMIN, field, forget_module_caches
from simple_db_client.certified import verify_chain, verify_entity, verify_tip

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import api_limits  # noqa: E402
from certification import Certifier  # noqa: E402
from error_map import from_exception  # noqa: E402
from test_certified_service import CANISTER, KEYS, Service  # noqa: E402 - a DbApi with certificates
from undo_map import UndoMap  # noqa: E402

ALICE = "mnnk5-gfqmo-4omau-3uj75-wcco3-qwour-lsvsv-tmcw3-2kwze-f6orv-yqe"
BOB = "rrkah-fqaaa-aaaaa-aaaaq-cai"
TYPES = ("r::Cert", "r::Plain")
# (a quote, a backslash, a separator character, an astral one: the ordered index's text paths)
TITLES = ["a", "b", "é", "bb", "x" * 20, "a\"b", "a\\", "\x1ea", "𝄞"]


def _typedef(name: str, certified: bool, high_n: float = 100.0) -> dict:
    return {
        "name": name,
        "fields": [field("title", "Text", None, 20.0, indexed=True),
                   field("n", "Int", 0.0, high_n, indexed=True)],
        "alias": None,
        "relations": [],
        "policy": {"read": {"Public": None}, "create": {"Anyone": None}, "modify": {"Owner": None},
                   "delete": {"Owner": None}, "certified": certified},
    }


# one message: (kind, caller, type index, id, title index or odd value, n or odd value)
ODD_TEXT = [{"Text": 5}, {"Int": 1}, {"Text": "y" * 21}, {"Null": None}, {"Bool": True}, {"Float": 1.0}]
ODD_INT = [{"Int": True}, {"Int": -1}, {"Int": 101}, {"Int": 2**64}, {"Int": 1.5}, {"Float": float("nan")},
           {"Text": "1"}, {"Int": False}]
good_text = st.sampled_from(TITLES).map(lambda t: {"Text": t})
good_int = st.integers(0, 5).map(lambda n: {"Int": n})
value_text = st.one_of(good_text, good_text, good_text, st.sampled_from(ODD_TEXT))
value_int = st.one_of(good_int, good_int, good_int, st.sampled_from(ODD_INT))
callers = st.sampled_from([ALICE, ALICE, ALICE, BOB])
ids = st.integers(1, 4)
# names given: a field twice, a name the type lacks, a relation-like name, more names than the type has
odd_names = st.sampled_from([["title", "title"], ["n", "nope"], ["nope"], ["title", "n", "title"],
                             ["n", "title", "n", "title"], ["_owner"], ["N"], ["title\x00"]])
create = st.tuples(st.just("create"), callers, st.integers(0, 1), value_text, value_int)
message = st.one_of(
    create, create,
    st.tuples(st.just("update"), callers, st.integers(0, 1), ids, value_text, value_int,
              st.sampled_from([None, None, 1, 2, 99])),
    st.tuples(st.just("update"), callers, st.integers(0, 1), ids, value_text, value_int,
              st.sampled_from([None, None, 1, 2, 99])),
    st.tuples(st.just("batch"), callers, st.integers(0, 1), ids, value_text, value_int, st.booleans()),
    st.tuples(st.just("delete"), callers, st.integers(0, 1), ids),
    st.tuples(st.just("steal"), callers, st.integers(0, 1), ids, st.sampled_from(["delete", "transfer"])),
    st.tuples(st.just("odd"), callers, st.integers(0, 1), ids, odd_names, st.booleans()),
    st.tuples(st.just("schema"), st.sampled_from([3.0, 100.0])),
    st.tuples(st.just("upgrade")),
)


def _ok(reply: dict) -> bool:
    return "Ok" in reply


def _fields_of(title, n) -> list:
    return [{"name": "title", "value": title}, {"name": "n", "value": n}]


class Model:
    """What a user expects the database to hold: {type: {id: (title, n, owner, version)}}."""

    def __init__(self):
        self.rows = {t: {} for t in TYPES}
        self.high_n = {t: 100 for t in TYPES}

    def valid(self, title: dict, n: dict, type_name: str) -> bool:
        good_title = title.get("Text") in TITLES or title == {"Null": None}
        payload = n.get("Int")
        good_n = (type(payload) is int and 0 <= payload <= self.high_n[type_name]) or n == {"Null": None}
        return good_title and good_n


def _run(svc: Service, model: Model, msg: tuple) -> None:
    api = svc.api
    kind = msg[0]
    if kind == "create":
        _, caller, t, title, n = msg
        reply = api.create(caller, TYPES[t], _fields_of(title, n))
        assert _ok(reply) == model.valid(title, n, TYPES[t]), (msg, reply)
        if _ok(reply):
            e = reply["Ok"]
            model.rows[TYPES[t]][e["id"]] = (_plain(title), _plain(n), caller, e["version"])
    elif kind == "update":
        _, caller, t, eid, title, n, expected = msg
        row = model.rows[TYPES[t]].get(eid)
        reply = api.update(caller, TYPES[t], eid, _fields_of(title, n), expected)
        allowed = (row is not None and row[2] == caller and model.valid(title, n, TYPES[t])
                   and expected in (None, row[3]))
        assert _ok(reply) == allowed, (msg, row, reply)
        if allowed:
            e = reply["Ok"]
            changed = (_plain(title), _plain(n)) != row[:2]
            assert e["version"] == row[3] + changed   # an update changing nothing keeps the version
            model.rows[TYPES[t]][eid] = (_plain(title), _plain(n), caller, e["version"])
    elif kind == "batch":
        # update the entity twice (the held entity), create one, and maybe fail at the end
        _, caller, t, eid, title, n, fail = msg
        tn = TYPES[t]
        ops = [
            {"Update": {"type_name": tn, "id": eid, "fields": [{"name": "n", "value": {"Int": 1}}],
                        "expected_version": None}},
            {"Update": {"type_name": tn, "id": eid, "fields": _fields_of(title, n),
                        "expected_version": None}},
            {"Create": {"type_name": tn, "fields": _fields_of({"Text": "bb"}, {"Int": 2})}},
        ]
        if fail:
            ops.append({"Update": {"type_name": tn, "id": eid, "expected_version": None,
                                   "fields": [{"name": "n", "value": {"Int": -7}}]}})
        row = model.rows[tn].get(eid)
        reply = api.batch(caller, ops)
        allowed = row is not None and row[2] == caller and model.valid(title, n, tn) and not fail
        assert _ok(reply) == allowed, (msg, row, reply)
        if allowed:
            updated, created = reply["Ok"][1]["Entity"], reply["Ok"][2]["Entity"]
            assert row[3] <= updated["version"] <= row[3] + 2
            model.rows[tn][eid] = (_plain(title), _plain(n), caller, updated["version"])
            model.rows[tn][created["id"]] = ("bb", 2, caller, created["version"])
    elif kind == "delete":
        _, caller, t, eid = msg
        row = model.rows[TYPES[t]].get(eid)
        reply = api.delete(caller, TYPES[t], eid)
        assert _ok(reply) == (row is not None and row[2] == caller), (msg, row, reply)
        if _ok(reply):
            del model.rows[TYPES[t]][eid]
    elif kind == "steal":
        # the entity the gateway holds changes hands or goes away; a later op of the batch must see that
        _, caller, t, eid, how = msg
        tn = TYPES[t]
        other = BOB if caller == ALICE else ALICE
        first = ({"Delete": {"type_name": tn, "id": eid}} if how == "delete" else
                 {"Transfer": {"type_name": tn, "id": eid, "owner": Principal.from_str(other)}})
        update = {"Update": {"type_name": tn, "id": eid, "fields": [{"name": "n", "value": {"Int": 0}}],
                             "expected_version": None}}
        row = model.rows[tn].get(eid)
        reply = api.batch(caller, [update, first, update])
        assert "Err" in reply, (msg, row, reply)
        if row is not None and row[2] == caller:   # the first two ops alone pass
            reply = api.batch(caller, [update, first])
            assert _ok(reply), (msg, row, reply)
            if how == "delete":
                del model.rows[tn][eid]
            else:
                version = api.get(ADMIN, tn, eid)["Ok"]["version"]
                assert row[3] < version <= row[3] + 2
                model.rows[tn][eid] = (row[0], 0, other, version)
    elif kind == "odd":   # names that no fast path may let through: refused, nothing changed
        _, caller, t, eid, names, creating = msg
        given = [{"name": name, "value": {"Int": 1} if name == "n" else {"Text": "a"}} for name in names]
        reply = (api.create(caller, TYPES[t], given) if creating
                 else api.update(caller, TYPES[t], eid, given, None))
        refusals = ("Invalid",) if creating else ("Invalid", "NotFound", "Forbidden")   # (checked first)
        assert next(iter(reply.get("Err", {"Ok": None}))) in refusals, (msg, reply)
    elif kind == "schema":
        high = msg[1]
        for t in TYPES:
            reply = api.define_type(ADMIN, _typedef(t, t == "r::Cert", high), True)
            fits = all(r[1] is None or r[1] <= high for r in model.rows[t].values())
            if _ok(reply):
                model.high_n[t] = int(high)
            elif fits:   # a narrower bound may be refused when stored values exceed it; else it must pass
                raise AssertionError((msg, reply))
    elif kind == "upgrade":
        forget_module_caches()
        api.after_upgrade()


def _plain(value: dict):
    return next(iter(value.values()))


def _entity_row(entity: dict) -> tuple:
    values = {f["name"]: _plain(f["value"]) for f in entity["fields"]}
    return values["title"], values["n"], entity["owner"].to_str(), entity["version"]


def _check(svc: Service, model: Model) -> None:
    """The live heap, a fresh heap over the same maps and the model agree; certification verifies."""
    for api in (svc.api,):
        for t in TYPES:
            rows = model.rows[t]
            for eid in range(1, 9):
                reply = api.get(ADMIN, t, eid)
                if eid in rows:
                    assert _entity_row(reply["Ok"]) == rows[eid], (t, eid)
                else:
                    assert "Err" in reply
            for title in TITLES:
                expected = sum(1 for r in rows.values() if r[0] == title)
                counted = api.count(ADMIN, t, [{"name": "title", "value": {"Text": title}}])["Ok"]
                assert counted == expected, (t, title)
            request = {"type_name": t, "filters": [], "order": {"field": "n", "descending": False},
                       "cursor": None, "limit": 100}
            page = api.query(ADMIN, request)["Ok"]
            ordered = [e["id"] for e in page["items"]]
            nulls_first = sorted(i for i in rows if rows[i][1] is None)
            by_n = sorted((i for i in rows if rows[i][1] is not None), key=lambda i: (rows[i][1], i))
            assert ordered in (by_n, nulls_first + by_n), t
    forget_module_caches()   # the root a fresh heap computes over the same maps (an upgrade's)
    fresh = Certifier(svc.maps["cert"][0], UndoMap(svc.maps["meta"][0]), None, None)
    assert fresh.root_digest() == svc.certified_data
    blocks = svc.api.icrc3_get_blocks(ADMIN, [{"start": 0, "length": 100}])
    if blocks["blocks"]:
        pairs = [(b["id"], b["block"]) for b in blocks["blocks"]]
        verify_chain(pairs, *verify_tip(svc.api.icrc3_get_tip_certificate(), CANISTER, KEYS.root_key_der))
    for eid in model.rows["r::Cert"]:
        certified = svc.api.get_certified(ALICE, "r::Cert", eid)["Ok"]
        assert verify_entity(certified, "r::Cert", eid, CANISTER, KEYS.root_key_der) is not None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(message, min_size=6, max_size=30), st.booleans())
def test_any_sequence_keeps_replies_indexes_and_certification_exact(messages, native_json):
    """`native_json` False: documents and audit entries written and read by the engine's own JSON code,
    as on Kybra's RustPython (no json C code there)."""
    native = key_layout.NATIVE_JSON
    key_layout.NATIVE_JSON = native and native_json
    try:
        svc = Service()
        for t in TYPES:
            assert svc.api.define_type(ADMIN, _typedef(t, t == "r::Cert"), False) == {"Ok": None}
        model = Model()
        for msg in messages:
            _run(svc, model, msg)
            _check(svc, model)
    finally:
        key_layout.NATIVE_JSON = native


@pytest.mark.parametrize("fail", [False, True])
def test_a_batch_updating_its_entity_twice_then_failing_leaves_everything_as_before(fail):
    svc = Service()
    for t in TYPES:
        assert svc.api.define_type(ADMIN, _typedef(t, t == "r::Cert"), False) == {"Ok": None}
    model = Model()
    for msg in [("create", ALICE, 0, {"Text": "a"}, {"Int": 3}),
                ("create", ALICE, 1, {"Text": "b"}, {"Int": 4}),
                ("batch", ALICE, 0, 1, {"Text": "é"}, {"Int": 5}, fail),
                ("update", ALICE, 0, 1, {"Text": "a"}, {"Int": 0}, None), ("upgrade",),
                ("update", ALICE, 0, 1, {"Text": "bb"}, {"Int": 1}, None)]:
        _run(svc, model, msg)
        _check(svc, model)


def test_index_splices_keep_order_and_counts_for_any_text():
    """Ordered-index inserts splice entries into leaf texts without decoding them, and a node's fit is
    decided without encoding ASCII text: titles of 1-4 byte characters, quotes, backslashes, NUL, line
    separators and the node texts' own separators and escapes, up to 200 characters (800 bytes in 1 KiB
    nodes), many sharing a value; creates, updates and deletes across upgrades; counts, Eq filters and
    the order by title match Python's."""
    svc = Service()
    typedef = _typedef("r::Plain", False)
    typedef["fields"][0]["max"] = 200.0
    assert svc.api.define_type(ADMIN, typedef, False) == {"Ok": None}
    rng = random.Random(7)
    chars = ["𝄞", "é", "a", "\u2028", "\x00", '"', "\\", "z",
             "\x1c", "\x1d", "\x1e", "\x1f", "\x1d0", "\x1d1", "\x1d2"]   # and index_nodes' separators
    rows = {}

    def title():
        if rows and rng.random() < 0.5:
            return rng.choice(list(rows.values()))
        return "".join(rng.choice(chars) for _ in range(rng.choice([1, 2, 60, 150, 200])))[:200]

    for i in range(160):
        reply = svc.api.create(ALICE, "r::Plain", [{"name": "title", "value": {"Text": title()}}])
        rows[reply["Ok"]["id"]] = _plain(reply["Ok"]["fields"][0]["value"])
        if i % 40 == 39:
            forget_module_caches()
            svc.api.after_upgrade()
    for i in range(120):
        eid = rng.choice(sorted(rows))
        if rng.random() < 0.3:
            assert "Ok" in svc.api.delete(ALICE, "r::Plain", eid)
            del rows[eid]
            continue
        text = title()
        changed = [{"name": "title", "value": {"Text": text}}]
        assert "Ok" in svc.api.update(ALICE, "r::Plain", eid, changed, None)
        rows[eid] = text
        if i % 40 == 39:
            svc.api.after_upgrade()
    for text in set(rows.values()):
        counted = svc.api.count(ADMIN, "r::Plain", [{"name": "title", "value": {"Text": text}}])["Ok"]
        assert counted == sum(1 for v in rows.values() if v == text)
        request = {"type_name": "r::Plain", "order": None, "cursor": None, "limit": 100,
                   "filters": [{"field": "title", "op": {"Eq": None}, "values": [{"Text": text}]}]}
        found = [e["id"] for e in svc.api.query(ADMIN, request)["Ok"]["items"]]
        assert found == sorted(i for i, v in rows.items() if v == text)
    for descending in (False, True):
        found = _ids_by_title(svc, descending)
        assert found == sorted(rows, key=lambda i: (rows[i], i), reverse=descending)


def test_an_engine_refusal_after_the_held_entity_changed_leaves_it_as_stored():
    """The gateway holds the entity it checked and changes it in place; when the engine refuses the
    change (an alias taken), alone or after an earlier op of the batch changed the same entity, the
    entity reads, finds, versions and certifies as stored, and a later update builds on the stored one."""
    svc = Service()
    typedef = _typedef("r::Cert", True)
    typedef["alias"] = "title"
    assert svc.api.define_type(ADMIN, typedef, False) == {"Ok": None}
    assert svc.api.define_type(ADMIN, _typedef("r::Plain", False), False) == {"Ok": None}
    for title, n in (("a", 1), ("b", 2)):
        assert "Ok" in svc.api.create(ALICE, "r::Cert", _fields_of({"Text": title}, {"Int": n}))
    taken = [{"name": "title", "value": {"Text": "a"}}]
    assert "Conflict" in svc.api.update(ALICE, "r::Cert", 2, taken, None)["Err"]
    ops = [{"Update": {"type_name": "r::Cert", "id": 2, "fields": [{"name": "n", "value": {"Int": 5}}],
                       "expected_version": None}},
           {"Update": {"type_name": "r::Cert", "id": 2, "fields": taken, "expected_version": None}}]
    assert "Conflict" in svc.api.batch(ALICE, ops)["Err"]
    model = Model()
    model.rows["r::Cert"] = {1: ("a", 1, ALICE, 1), 2: ("b", 2, ALICE, 1)}
    _check(svc, model)
    assert svc.api.find(ADMIN, "r::Cert", "b")["Ok"]["id"] == 2
    assert "Conflict" in svc.api.update(ALICE, "r::Cert", 2, [{"name": "n", "value": {"Int": 6}}], 2)["Err"]
    assert svc.api.update(ALICE, "r::Cert", 2, [{"name": "n", "value": {"Int": 6}}], 1)["Ok"]["version"] == 2
    upserted = svc.api.upsert(ALICE, "r::Cert", {"Text": "b"}, [{"name": "n", "value": {"Int": 9}}])
    assert upserted["Ok"]["entity"]["version"] == 3
    assert "Err" in svc.api.upsert(BOB, "r::Cert", {"Text": "b"}, [{"name": "n", "value": {"Int": 10}}])
    model.rows["r::Cert"][2] = ("b", 9, ALICE, 3)
    _check(svc, model)


def test_links_and_their_cascades_keep_every_certified_entity_verifiable():
    """Blocks are hashed from the engine's copies of entries and only the entities those entries name
    are rehashed: a link, a link set from the reverse side, a OneToOne moved to another entity, a
    SetNull delete, a create naming a relation, a transfer and an unlink each leave every certified
    entity verifiable, the root equal to a fresh certifier's and the chain verifiable."""
    svc = Service()
    assert svc.api.define_type(ADMIN, _typedef("r::Plain", False), False) == {"Ok": None}
    typedef = _typedef("r::Cert", True)

    def relation(name, kind, target, reverse):
        return {"name": name, "kind": {kind: None}, "target": target, "reverse": reverse,
                "on_delete": {"SetNull": None}}

    typedef["relations"] = [relation("partner", "OneToOne", "r::Cert", "partner_of"),
                            relation("parent", "ManyToOne", "r::Cert", "children"),
                            relation("tag", "ManyToOne", "r::Plain", "docs")]
    assert svc.api.define_type(ADMIN, typedef, False) == {"Ok": None}
    for i in range(6):
        assert "Ok" in svc.api.create(ALICE, "r::Cert", _fields_of({"Text": "a"}, {"Int": i}))
    assert "Ok" in svc.api.create(BOB, "r::Plain", _fields_of({"Text": "b"}, {"Int": 1}))

    def verified():
        for eid in range(1, 9):
            reply = svc.api.get_certified(ALICE, "r::Cert", eid)["Ok"]
            verify_entity(reply, "r::Cert", eid, CANISTER, KEYS.root_key_der)
        forget_module_caches()
        fresh = Certifier(svc.maps["cert"][0], UndoMap(svc.maps["meta"][0]), None, None)
        assert fresh.root_digest() == svc.certified_data
        blocks = svc.api.icrc3_get_blocks(ADMIN, [{"start": 0, "length": 100}])["blocks"]
        tip = verify_tip(svc.api.icrc3_get_tip_certificate(), CANISTER, KEYS.root_key_der)
        verify_chain([(b["id"], b["block"]) for b in blocks], *tip)

    steps = [
        lambda: svc.api.link(ALICE, "r::Cert", 1, "partner", 2),
        lambda: svc.api.link(ALICE, "r::Cert", 3, "partner", 2),        # moves 2's partner from 1 to 3
        lambda: svc.api.link(ALICE, "r::Cert", 4, "parent", 5),
        lambda: svc.api.link(ALICE, "r::Cert", 5, "partner_of", 6),     # from the reverse side
        lambda: svc.api.link(ALICE, "r::Cert", 1, "tag", 1),
        lambda: svc.api.delete(ALICE, "r::Cert", 2),                    # SetNull of 3's partner
        lambda: svc.api.delete(BOB, "r::Plain", 1),                     # SetNull of 1's tag
        lambda: svc.api.create(ALICE, "r::Cert", _fields_of({"Text": "x"}, {"Int": 1})
                               + [{"name": "parent", "value": {"Int": 6}}]),
        lambda: svc.api.transfer(ALICE, "r::Cert", 6, Principal.from_str(BOB)),
        lambda: svc.api.unlink(ALICE, "r::Cert", 7, "parent", 6),
        lambda: svc.api.delete(ALICE, "r::Cert", 5),
    ]
    verified()
    for step in steps:
        assert "Ok" in step()
        verified()


@pytest.mark.parametrize("native_json", [True, False])
def test_texts_that_look_like_document_json_read_back_exactly(monkeypatch, native_json):
    """Documents are read by splitting on quotes once their ends are checked (the path Kybra's RustPython
    takes, without json's C code: native_json False here): Text values made of quotes, backslashes,
    escapes and fragments of the document's own layout read back exactly, and the other field and the
    owner are not disturbed, through updates and upgrades."""
    monkeypatch.setattr(key_layout, "NATIVE_JSON", native_json and key_layout.NATIVE_JSON)
    svc = Service()
    typedef = _typedef("r::Plain", False)
    typedef["fields"][0]["max"] = 200.0
    typedef["fields"][1]["min"] = typedef["fields"][1]["max"] = None
    assert svc.api.define_type(ADMIN, typedef, False) == {"Ok": None}
    pieces = ['","n":5,"x":"', "\\", '\\"', '"', '":', '{"v":1,', "}", '\\\\"n\\":7', "\u2028", "\x00",
              "\\u0022", '"f":{"n":9}', ',"o":"', '"}', 'é"', "\U0001F600\"", '","u":"x', ":", " "]
    rng = random.Random(5)

    def tricky() -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))[:200]

    for i in range(60):
        title, n = tricky(), rng.choice([0, -1, 2**63 - 1, -(2**63), 5])
        entity_id = svc.api.create(ALICE, "r::Plain", _fields_of({"Text": title}, {"Int": n}))["Ok"]["id"]
        for _ in range(2):
            got = svc.api.get(BOB, "r::Plain", entity_id)["Ok"]
            assert _entity_row(got)[:3] == (title, n, ALICE)
            title = tricky()
            changed = [{"name": "title", "value": {"Text": title}}]
            assert "Ok" in svc.api.update(ALICE, "r::Plain", entity_id, changed, None)
        if i % 20 == 19:
            svc.api.after_upgrade()


@pytest.mark.parametrize("native_json", [True, False])
def test_blocks_hashed_from_copies_match_the_stored_entries_for_odd_texts_and_floats(native_json):
    """Blocks are hashed from the engine's copies of its entries, the client hashes the blocks built from
    the entries as stored and read back (by json's C code or the engine's own reader, `native_json`):
    texts of quotes, escapes, control characters and the layout's fragments, and floats at their ends,
    chain and certify the same either way."""
    native = key_layout.NATIVE_JSON
    key_layout.NATIVE_JSON = native and native_json
    try:
        svc = Service()
        typedef = _typedef("r::Cert", True)
        typedef["fields"][0]["max"] = 200.0
        floating = dict(typedef["fields"][1], name="f", kind={"Float": None}, min=None, max=None)
        typedef["fields"].append(floating)
        assert svc.api.define_type(ADMIN, typedef, False) == {"Ok": None}
        pieces = ['","n":5,"x":"', "\\", '\\"', '"', '":', '{"v":1,', "}", "\u2028", "\x00", "\x1f", "\x7f",
                  "\\u0022", '"f":{"n":9}', 'é"', "\U0001F600\"", "\ufeff", "/"]
        floats = [0.1, 1e308, -1e308, 5e-324, -0.0, 2.5, 1e16, 123456789.125]
        rng = random.Random(1)
        for i in range(40):
            title = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))[:199]
            given = _fields_of({"Text": title}, {"Int": 1})
            given.append({"name": "f", "value": {"Float": floats[i % 8]}})
            entity_id = svc.api.create(ALICE, "r::Cert", given)["Ok"]["id"]
            changed = [{"name": "title", "value": {"Text": title + "\\"}},
                       {"name": "f", "value": {"Float": floats[(i + 3) % 8]}}]
            assert "Ok" in svc.api.update(ALICE, "r::Cert", entity_id, changed, None)
        blocks = []
        for start in (0, 50):
            page = svc.api.icrc3_get_blocks(ADMIN, [{"start": start, "length": 50}])["blocks"]
            blocks += [(b["id"], b["block"]) for b in page]
        assert len(blocks) == 80
        verify_chain(blocks, *verify_tip(svc.api.icrc3_get_tip_certificate(), CANISTER, KEYS.root_key_der))
        for entity_id in range(1, 41):
            reply = svc.api.get_certified(ALICE, "r::Cert", entity_id)["Ok"]
            assert verify_entity(reply, "r::Cert", entity_id, CANISTER, KEYS.root_key_der) is not None
    finally:
        key_layout.NATIVE_JSON = native


def test_long_texts_sharing_an_indexed_prefix_filter_exactly():
    """Long Text values are indexed by a prefix (docs/engine.md): texts of 1-4 byte characters sharing
    one past it are ordered by id among themselves, but Eq filters and counts stay exact and the order
    holds for texts that differ early."""
    svc = Service()
    typedef = _typedef("r::Plain", False)
    typedef["fields"][0]["max"] = 256.0
    assert svc.api.define_type(ADMIN, typedef, False) == {"Ok": None}
    rng = random.Random(2)
    rows = {}
    for _ in range(80):
        title = (rng.choice(["a", "é", "𝄞"]) * rng.choice([30, 60, 120, 200])
                 + rng.choice(["", "a", "b", "é", "z" * 20, "0"]))[:256]
        rows[svc.api.create(ALICE, "r::Plain", _fields_of({"Text": title}, {"Int": 1}))["Ok"]["id"]] = title
    found = _ids_by_title(svc, False)
    assert sorted(found) == sorted(rows)
    assert all(rows[a][:25] <= rows[b][:25] for a, b in zip(found, found[1:]))
    for title in set(rows.values()):
        assert svc.api.count(ADMIN, "r::Plain", [{"name": "title", "value": {"Text": title}}])["Ok"] == sum(
            1 for v in rows.values() if v == title)
        request = {"type_name": "r::Plain", "order": None, "cursor": None, "limit": 100,
                   "filters": [{"field": "title", "op": {"Eq": None}, "values": [{"Text": title}]}]}
        matched = [e["id"] for e in svc.api.query(ADMIN, request)["Ok"]["items"]]
        assert matched == sorted(i for i, v in rows.items() if v == title)


def test_a_hook_that_rewrites_or_refuses_a_value_after_the_inline_checks():
    """demo::Note's hook trims titles and refuses blank ones after the service's inline checks passed the
    value: the held entity changed by a refused update (alone or later in a batch) reads as stored, the
    stored, indexed, counted and chained value is the trimmed one."""
    svc = Service()
    note = "demo::Note"

    def title(value: str) -> list:
        return [{"name": "title", "value": {"Text": value}}]

    created = svc.api.create(ALICE, note, title("  hi  "))["Ok"]
    assert created["fields"][0]["value"] == {"Text": "hi"}
    assert "Invalid" in svc.api.update(ALICE, note, created["id"], title("   "), None)["Err"]
    ops = [{"Update": {"type_name": note, "id": created["id"], "fields": title(v), "expected_version": None}}
           for v in (" ok ", "  ")]
    assert "Invalid" in svc.api.batch(ALICE, ops)["Err"]
    got = svc.api.get(BOB, note, created["id"])["Ok"]
    assert (got["fields"][0]["value"], got["version"]) == ({"Text": "hi"}, 1)
    updated = svc.api.update(ALICE, note, created["id"], title(" new "), 1)["Ok"]
    assert (updated["fields"][0]["value"], updated["version"]) == ({"Text": "new"}, 2)
    assert svc.api.count(ADMIN, note, title("new"))["Ok"] == 1
    assert svc.api.count(ADMIN, note, title("hi"))["Ok"] == 0
    blocks = svc.api.icrc3_get_blocks(ADMIN, [{"start": 0, "length": 100}])["blocks"]
    verify_chain([(b["id"], b["block"]) for b in blocks],
                 *verify_tip(svc.api.icrc3_get_tip_certificate(), CANISTER, KEYS.root_key_der))
    assert len(blocks) == 2


def test_a_restore_into_a_fresh_canister_certifies_and_chains_what_it_wrote():
    """A restore's entries are chained from the copies the engine kept and its entities rehashed like any
    update's: certified gets of the restored entities verify, and so does the chain."""
    source = Service()
    assert source.api.define_type(ADMIN, _typedef("r::Cert", True), False) == {"Ok": None}
    for i in range(5):
        assert "Ok" in source.api.create(ALICE, "r::Cert", _fields_of({"Text": TITLES[i]}, {"Int": i}))
    assert "Ok" in source.api.update(ALICE, "r::Cert", 2, [{"name": "n", "value": {"Int": 9}}], None)
    target = Service()
    cursor = None
    while True:
        page = source.api.dump(ADMIN, cursor, 100)["Ok"]
        data = json.loads(page["data"])   # (the engine's type registry is per process: other tests' types)
        data["records"] = [r for r in data["records"] if r.get("type") in ("r::Cert", "demo::Note", None)]
        assert "Ok" in target.api.restore(ADMIN, json.dumps(data))
        cursor = page["next"]
        if not cursor:
            break
    for entity_id in range(1, 6):
        reply = target.api.get_certified(ALICE, "r::Cert", entity_id)["Ok"]
        assert verify_entity(reply, "r::Cert", entity_id, CANISTER, KEYS.root_key_der) is not None
    assert _entity_row(target.api.get(BOB, "r::Cert", 2)["Ok"])[:3] == (TITLES[1], 9, ALICE)
    blocks = target.api.icrc3_get_blocks(ADMIN, [{"start": 0, "length": 100}])["blocks"]
    verify_chain([(b["id"], b["block"]) for b in blocks],
                 *verify_tip(target.api.icrc3_get_tip_certificate(), CANISTER, KEYS.root_key_der))
    forget_module_caches()
    fresh = Certifier(target.maps["cert"][0], UndoMap(target.maps["meta"][0]), None, None)
    assert fresh.root_digest() == target.certified_data


def test_a_create_naming_relations_takes_the_slow_route_and_refuses_what_it_refused():
    """A create naming no relation passes its fields on as given (the common create); one naming a
    relation is split as before: repeated, mistyped, negative, to-many and unknown-target relations are
    refused and create nothing."""
    svc = Service()
    typedef = _typedef("r::Cert", True)
    typedef["relations"] = [{"name": "parent", "kind": {"ManyToOne": None}, "target": "r::Cert",
                             "reverse": "children", "on_delete": {"SetNull": None}}]
    assert svc.api.define_type(ADMIN, typedef, False) == {"Ok": None}
    assert "Ok" in svc.api.create(ALICE, "r::Cert", _fields_of({"Text": "a"}, {"Int": 1}))
    base = _fields_of({"Text": "b"}, {"Int": 1})
    refused = [
        ("Invalid", [{"name": "parent", "value": {"Int": 1}}, {"name": "parent", "value": {"Int": 1}}]),
        ("Invalid", [{"name": "parent", "value": {"Text": "1"}}]),
        ("Invalid", [{"name": "parent", "value": {"Int": -1}}]),
        ("Invalid", [{"name": "parent", "value": {"Int": True}}]),
        ("Invalid", [{"name": "children", "value": {"Int": 1}}]),
        ("NotFound", [{"name": "parent", "value": {"Int": 99}}]),
        ("Invalid", [{"name": "title", "value": {"Text": "x"}}]),
    ]
    for error, extra in refused:
        assert error in svc.api.create(ALICE, "r::Cert", base + extra)["Err"], extra
    assert svc.api.count(ADMIN, "r::Cert", [])["Ok"] == 1
    linked = svc.api.create(ALICE, "r::Cert", base + [{"name": "parent", "value": {"Int": 1}}])["Ok"]
    assert linked["refs"] == [{"relation": "parent", "target_type": "r::Cert", "target_id": 1}]
    reply = svc.api.get_certified(ALICE, "r::Cert", linked["id"])["Ok"]
    assert verify_entity(reply, "r::Cert", linked["id"], CANISTER, KEYS.root_key_der) is not None


def _split_then_values_error(api, type_name: str, fields: list):
    """What a create refused before its fields were checked as given: the split of relations first, then
    the values (error_map's Error of the first refusal; None when neither refuses)."""
    shape = api.registry.shape(type_name)
    try:
        plain_fields, _ = api._split_refs(shape, fields)
        api._values(shape.plain, plain_fields, True, shape)
    except Exception as exc:
        return from_exception(exc).variant()
    return None


@pytest.mark.parametrize("fields", [
    [{"name": "title", "value": {"Int": 5}}, {"name": "children", "value": {"Int": 1}}],
    [{"name": "title", "value": {"Text": "x" * 500}}, {"name": "parent", "value": {"Text": "1"}}],
    [{"name": "nope", "value": {"Int": 1}}, {"name": "parent", "value": {"Int": -1}}],
    [{"name": "title", "value": {"Text": "a"}}, {"name": "title", "value": {"Text": "b"}},
     {"name": "parent", "value": {"Int": 1}}, {"name": "parent", "value": {"Int": 1}}],
    [{"name": "n", "value": {"Text": "1"}}, {"name": "parent", "value": {"Null": None}}],
    [{"name": "title", "value": {"Text": "t"}}] * 3 + [{"name": "parent", "value": {"Int": 1}}],
    [{"name": "n", "value": {"Int": 10**9}}, {"name": "parent", "value": {"Int": True}}],
    [{"name": "n", "value": {"Int": 10**9}}],
])
def test_a_refused_create_naming_a_relation_says_what_the_split_said_first(fields):
    """A create's fields are checked as given, and only a refusal (or a relation named) sends them
    through the split: the error is the one the split-first order gives, word for word."""
    svc = Service()
    typedef = _typedef("r::Cert", False)
    typedef["relations"] = [{"name": "parent", "kind": {"ManyToOne": None}, "target": "r::Cert",
                             "reverse": "children", "on_delete": {"SetNull": None}}]
    assert svc.api.define_type(ADMIN, typedef, False) == {"Ok": None}
    expected = _split_then_values_error(svc.api, "r::Cert", fields)
    assert expected is not None
    assert svc.api.create(ALICE, "r::Cert", fields) == {"Err": expected}
    assert svc.api.count(ADMIN, "r::Cert", [])["Ok"] == 0


def test_a_limit_refusal_mid_batch_leaves_held_entity_caches_and_chain_as_before():
    """The batch's instruction meter refuses operation 2 after operation 0 changed the held entity and 1
    created one: nothing is kept (replies, indexes, counts, the certified tree and the chain), and the
    next update builds on the stored version."""
    svc = Service()
    for t in TYPES:
        assert svc.api.define_type(ADMIN, _typedef(t, t == "r::Cert"), False) == {"Ok": None}
    model = Model()
    _run(svc, model, ("create", ALICE, 0, {"Text": "a"}, {"Int": 3}))
    reads = [0]

    def meter() -> int:
        reads[0] += 1
        return api_limits.BATCH_INSTRUCTIONS + 1 if reads[0] > 2 else 0

    svc.api.meter = meter
    change = {"type_name": "r::Cert", "id": 1, "expected_version": None}
    ops = [{"Update": dict(change, fields=[{"name": "n", "value": {"Int": 1}}])},
           {"Create": {"type_name": "r::Cert", "fields": _fields_of({"Text": "b"}, {"Int": 2})}},
           {"Update": dict(change, fields=[{"name": "n", "value": {"Int": 2}}])}]
    assert "Limit" in svc.api.batch(ALICE, ops)["Err"]
    svc.api.meter = None
    _check(svc, model)
    _run(svc, model, ("update", ALICE, 0, 1, {"Text": "b"}, {"Int": 4}, 1))
    _check(svc, model)


def _ids_by_title(svc, descending: bool) -> list:
    """Every r::Plain id in title order, page by page through `query`."""
    found, cursor = [], None
    while True:
        request = {"type_name": "r::Plain", "filters": [], "cursor": cursor, "limit": 100,
                   "order": {"field": "title", "descending": descending}}
        page = svc.api.query(ADMIN, request)["Ok"]
        found += [e["id"] for e in page["items"]]
        cursor = page["next"]
        if cursor is None:
            return found
