"""Certification hashes the entities an update created or changed from the engine's objects the gateway
holds (engine_gateway `keep`), not from a read after the commit: the tree must hold exactly the hashes of
the records as storage gives them, after batches that touch an entity twice, roll back, delete, link,
transfer, restore, redefine, upgrade, or name an entity with a text id."""

import json
import sys
from pathlib import Path

import pytest
from service_maps import ADMIN
from test_certified_service import ALICE, Service, text, tree_type, typedef

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
from certification import entity_hash  # noqa: E402

DOC = "c::Doc"


def _create(name: str) -> dict:
    return {"Create": {"type_name": DOC, "fields": [text(name)]}}


def _update(entity_id: int, n: int) -> dict:
    return {"Update": {"type_name": DOC, "id": entity_id, "fields": [{"name": "n", "value": {"Int": n}}],
                       "expected_version": None}}


def _stored_leaves(svc, type_name: str, top: int) -> dict:
    """id -> entity_hash of the record read from storage, with no engine object to give it."""
    gateway = svc.api.gateway
    gateway.db.identity.clear()
    leaves = {}
    for entity_id in range(1, top + 1):
        record = gateway.load(type_name, entity_id)
        if record is not None:
            leaves[entity_id] = entity_hash(type_name, record)
    return leaves


def _tree_leaves(svc, type_name: str, top: int) -> dict:
    merkle = svc.api.certifier.merkle
    merkle.reset()
    leaves = {}
    for entity_id in range(1, top + 1):
        leaf = merkle.leaf(type_name, entity_id)
        if leaf is not None:
            leaves[entity_id] = leaf
    return leaves


def _same(svc, type_name: str = DOC, top: int = 30) -> None:
    assert _tree_leaves(svc, type_name, top) == _stored_leaves(svc, type_name, top)
    assert svc.api.certifier.root_digest() == svc.certified_data


@pytest.fixture
def svc():
    s = Service()
    assert s.api.define_type(ADMIN, typedef(DOC, True, alias="title"), False) == {"Ok": None}
    assert s.api.define_type(ADMIN, tree_type(), False) == {"Ok": None}
    return s


def test_creates_and_updates_are_hashed_without_a_read(svc, monkeypatch):
    """The figures of `benchmarks.canister_wasm`'s certified rows rest on this."""
    svc.api.create(ALICE, DOC, [text("warm")])   # (the certifier hands its types to the gateway)
    loads = []
    real = svc.api.gateway.load
    monkeypatch.setattr(svc.api.gateway, "load", lambda *a: loads.append(a) or real(*a))
    created = svc.api.create(ALICE, DOC, [text("a")])["Ok"]
    svc.api.update(ALICE, DOC, created["id"], [{"name": "n", "value": {"Int": 4}}], None)
    assert "Ok" in svc.api.batch(ALICE, [_create("b"), _update(created["id"], 5), _create("c")])
    assert loads == []
    monkeypatch.undo()
    _same(svc)


def test_an_entity_touched_twice_in_a_batch_is_hashed_as_stored_last(svc):
    first = svc.api.create(ALICE, DOC, [text("a")])["Ok"]["id"]
    assert "Ok" in svc.api.batch(ALICE, [_update(first, 1), _create("b"), _update(first, 2), _update(2, 3),
                                        _update(first, 4)])
    _same(svc)
    assert svc.api.get(ALICE, DOC, first)["Ok"]["version"] == 4


def test_a_refused_batch_leaves_the_tree_and_a_later_change_is_hashed_as_stored(svc):
    first = svc.api.create(ALICE, DOC, [text("a")])["Ok"]["id"]
    before = svc.certified_data
    missing = {"Update": {"type_name": DOC, "id": 999, "fields": [text("x")], "expected_version": None}}
    assert "Err" in svc.api.batch(ALICE, [_create("b"), _update(first, 7), missing])
    assert svc.certified_data == before
    _same(svc)
    assert "Ok" in svc.api.batch(ALICE, [_create("c"), _update(first, 8)])
    assert "Ok" in svc.api.update(ALICE, DOC, first, [text("again")], None)
    _same(svc)


def test_deletes_links_transfers_and_restores_in_between(svc):
    ids = [svc.api.create(ALICE, "c::Tree", [text("t" + str(i))])["Ok"]["id"] for i in range(6)]
    assert svc.api.link(ALICE, "c::Tree", ids[1], "parent", ids[0]) == {"Ok": None}
    update = {"Update": {"type_name": "c::Tree", "id": ids[2], "fields": [text("u")],
                         "expected_version": None}}
    delete = {"Delete": {"type_name": "c::Tree", "id": ids[2]}}
    assert "Ok" in svc.api.batch(ALICE, [update, delete])
    created = {"Create": {"type_name": "c::Tree", "fields": [text("new")]}}
    assert "Ok" in svc.api.batch(ALICE, [created, {"Delete": {"type_name": "c::Tree", "id": ids[3]}}])
    assert "Ok" in svc.api.update(ALICE, "c::Tree", ids[1], [text("moved")], None)
    assert svc.api.unlink(ALICE, "c::Tree", ids[1], "parent", ids[0]) == {"Ok": None}
    assert "Ok" in svc.api.transfer(ALICE, "c::Tree", ids[4], svc.api.principal(ADMIN))
    _same(svc, "c::Tree")
    page = svc.api.dump(ADMIN, None, 100)["Ok"]
    for entity_id in ids + [ids[-1] + 1]:
        svc.api.delete(ALICE, "c::Tree", entity_id)
        svc.api.delete(ADMIN, "c::Tree", entity_id)
    dump = json.loads(page["data"])   # (this type's records: the engine's registry may know others')
    dump["records"] = [r for r in dump["records"] if r.get("type") == "c::Tree"]
    assert "Ok" in svc.api.restore(ADMIN, json.dumps(dump))
    _same(svc, "c::Tree")
    assert "Ok" in svc.api.update(ALICE, "c::Tree", ids[0], [text("after restore")], None)
    _same(svc, "c::Tree")


def test_a_redefined_type_and_an_upgrade_in_between(svc):
    first = svc.api.create(ALICE, DOC, [text("a")])["Ok"]["id"]
    redefined = typedef(DOC, True, alias="title")
    redefined["fields"][1]["max"] = 100.0
    assert svc.api.define_type(ADMIN, redefined, True) == {"Ok": None}
    assert "Ok" in svc.api.update(ALICE, DOC, first, [{"name": "n", "value": {"Int": 9}}], None)
    assert "Ok" in svc.api.create(ALICE, DOC, [text("b")])
    _same(svc)
    svc.api.after_upgrade()
    assert "Ok" in svc.api.update(ALICE, DOC, first, [{"name": "n", "value": {"Int": 10}}], None)
    _same(svc)


def test_the_gateway_lets_go_of_the_entities_it_held(svc):
    """Held only until certified: a later message reads the engine's state, not an object kept for it."""
    for i in range(5):
        svc.api.create(ALICE, DOC, [text("n" + str(i))])
    assert svc.api.gateway.changed == {}
    missing = {"Update": {"type_name": DOC, "id": 999, "fields": [text("x")], "expected_version": None}}
    svc.api.batch(ALICE, [_create("x"), missing])
    svc.api.create(ALICE, DOC, [text("y")])
    assert svc.api.gateway.changed == {}
