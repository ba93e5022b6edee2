"""`dump` pages carry a bounded number of link ids however many links one entity has (the rest follow in
continuation records on later pages, format /2), and `restore` takes such a continuation only for an
entity restored from a record that announced it, with the checks of any restore page. Service layer
(db_api) on memory maps, with the page caps lowered so a few dozen links span pages."""

import json
import sys
from pathlib import Path

import pytest
from kybra_simple_db import dump_restore, type_registry
from service_maps import ADMIN, installed_api, stored

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import db_api  # noqa: E402 - the canister's own module, found on its source path
import dump_pages  # noqa: E402

USER = "rrkah-fqaaa-aaaaa-aaaaq-cai"
OPEN = {"read": {"Public": None}, "create": {"Anyone": None}, "modify": {"Owner": None},
        "delete": {"Owner": None}}
TEXT = {"name": "name", "kind": {"Text": None}, "required": False, "default": None, "min": None,
        "max": 20.0, "indexed": False}
GROUP = {"name": "g::Group", "fields": [TEXT], "alias": None, "policy": OPEN,
         "relations": [{"name": "members", "kind": {"ManyToMany": None}, "target": "g::Person",
                        "reverse": "groups", "on_delete": {"SetNull": None}},
                       {"name": "lead", "kind": {"OneToMany": None}, "target": "g::Person",
                        "reverse": "led_by", "on_delete": {"SetNull": None}}]}
PERSON = {"name": "g::Person", "fields": [TEXT], "alias": None, "policy": OPEN, "relations": []}


def _service():
    type_registry.clear()  # entity classes other tests of this process defined are not this canister's
    return installed_api()


def _filled(links: int):
    api, maps = _service()
    for typedef in (PERSON, GROUP):
        assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    name = [{"name": "name", "value": {"Text": "x"}}]
    for start in range(0, links + 2, 100):
        ops = [{"Create": {"type_name": "g::Person", "fields": name}}] * min(100, links + 2 - start)
        assert "Ok" in api.batch(ADMIN, ops)
    hub = api.create(ADMIN, "g::Group", name)["Ok"]["id"]
    for person in range(1, links + 1):
        assert api.link(ADMIN, "g::Group", hub, "members", person) == {"Ok": None}
    return api, maps, hub


def _dump(api) -> list:
    pages, cursor = [], None
    while True:
        page = api.dump(ADMIN, cursor, 20)["Ok"]
        pages.append(page["data"])
        cursor = page["next"]
        if cursor is None:
            return pages


def _entities(pages: list) -> dict:
    """{(type, id): record} of a dump, each entity's continued links merged into its record."""
    out = {}
    for data in pages:
        for record in json.loads(data)["records"]:
            if "links_of" in record:
                links = out[(record["type"], record["links_of"])]["links"]
                for name, ids in record["links"].items():
                    links[name] = links.get(name, []) + ids
            elif "id" in record:
                out[(record["type"], record["id"])] = {k: v for k, v in record.items() if k != "more_links"}
    return out


def _ids(page: dict) -> int:
    return dump_restore.link_ids(page["records"])


def test_a_many_linked_entity_dumps_in_pages_and_restores_page_by_page(monkeypatch):
    monkeypatch.setattr(dump_restore, "MAX_DUMP_LINK_IDS", 10)
    api, _, hub = _filled(45)
    pages = _dump(api)
    parsed = [json.loads(data) for data in pages]
    assert len(parsed) >= 5 and max(_ids(page) for page in parsed) <= 10
    assert {page["format"] for page in parsed} == {"kybra-simple-db-dump/1", "kybra-simple-db-dump/2"}
    for page in parsed:
        assert (page["format"] == "kybra-simple-db-dump/2") == any(map(dump_pages.continues, page["records"]))
    copy, _ = _service()
    for data in pages:
        assert "Ok" in copy.restore(ADMIN, data), data[:200]
    assert _entities(_dump(copy)) == _entities(pages)
    listed = copy.links(ADMIN, "g::Group", hub, "members", None, 100)["Ok"]["items"]
    assert listed == list(range(1, 46))


def _announced(monkeypatch):
    """A copy that restored the hub's first page (its record announces more links), and the rest."""
    monkeypatch.setattr(dump_restore, "MAX_DUMP_LINK_IDS", 10)
    api, _, hub = _filled(25)
    pages = [json.loads(data) for data in _dump(api)]
    copy, maps = _service()
    first = next(n for n, p in enumerate(pages) if any(r.get("more_links") for r in p["records"]))
    for page in pages[:first + 1]:
        assert "Ok" in copy.restore(ADMIN, json.dumps(page))
    rest = pages[first + 1:]
    return copy, maps, hub, rest


def _page(*records, format="kybra-simple-db-dump/2") -> str:
    return json.dumps({"format": format, "records": list(records)})


def test_a_continuation_is_refused_unless_it_goes_on_with_an_announced_entity(monkeypatch):
    copy, maps, hub, rest = _announced(monkeypatch)
    going_on = rest[0]["records"][0]
    assert going_on["links_of"] == hub and going_on["links"]["members"][0] == 11
    made = copy.create(ADMIN, "g::Group", [])["Ok"]["id"]
    before = stored(maps)
    attacks = {
        "Forbidden": [(USER, _page(going_on))],
        "Invalid": [
            (ADMIN, _page(going_on, format="kybra-simple-db-dump/1")),
            (ADMIN, _page(dict(going_on, owner=USER))),
            (ADMIN, _page(dict(going_on, fields={"name": "taken"}))),
            (ADMIN, _page(dict(going_on, links_of=0))),
            (ADMIN, _page(dict(going_on, links_of=2**64))),
            (ADMIN, _page(dict(going_on, links={"members": [0]}))),
            (ADMIN, _page(dict(going_on, links={"members": ["11"]}))),
            (ADMIN, _page(dict(going_on, links={"lead": [11]}))),
            (ADMIN, _page(dict(going_on, links={"nope": [11]}))),
            (ADMIN, _page(dict(going_on, more_links=1))),
            (ADMIN, _page(dict(going_on, links={"members": [12, 11]}))),
        ],
        "Conflict": [
            (ADMIN, _page(dict(going_on, links_of=made))),           # created, not restored
            (ADMIN, _page(dict(going_on, links={"members": [10]}))),  # restored already
        ],
        "NotFound": [
            (ADMIN, _page(dict(going_on, links_of=made + 1))),
            (ADMIN, _page(dict(going_on, type="g::Nope"))),
        ],
    }
    for kind, calls in attacks.items():
        for caller, data in calls:
            result = copy.restore(caller, data)
            assert kind in result.get("Err", {}), (kind, data, result)
    assert stored(maps) == before
    for page in rest:
        assert "Ok" in copy.restore(ADMIN, json.dumps(page))
    assert copy.links(ADMIN, "g::Group", hub, "members", None, 100)["Ok"]["items"] == list(range(1, 26))
    assert "Conflict" in copy.restore(ADMIN, json.dumps(rest[0]))["Err"]   # a replay, once complete


def test_a_restore_page_with_too_many_link_ids_is_a_limit_error(monkeypatch):
    monkeypatch.setattr(db_api, "MAX_RESTORE_LINK_IDS", 5)
    api, maps = _service()
    for typedef in (PERSON, GROUP):
        assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    record = {"type": "g::Group", "id": 1, "fields": {}, "refs": {}, "links": {"members": [1, 2, 3, 4, 5, 6]},
              "owner": ADMIN, "creator": ADMIN, "updater": ADMIN, "created": 1, "updated": 1, "version": 1}
    before = stored(maps)
    result = api.restore(ADMIN, _page(record, format="kybra-simple-db-dump/1"))
    assert "link ids" in result["Err"]["Limit"]
    assert stored(maps) == before
    record["links"]["members"].pop()
    assert api.restore(ADMIN, _page(record, format="kybra-simple-db-dump/1")) == {"Ok": 1}


@pytest.mark.parametrize("cursor", ["1:0:members:3", "1:1:nope:3", "1:1:members:-1", "1:1:members:3:4"])
def test_hostile_cursors_inside_links_are_invalid(cursor):
    api, _, _ = _filled(3)
    assert "Invalid" in api.dump(ADMIN, cursor, 10)["Err"]


def test_dump_pages_are_compact_json_with_sorted_keys(monkeypatch):
    """A page's text is the compact, key-sorted JSON of its content (the records' text, encoded once to
    measure the page, goes into the page as it is): the first page with its schema, later ones without."""
    monkeypatch.setattr(dump_restore, "MAX_DUMP_LINK_IDS", 15)
    api, _, _ = _filled(40)
    pages = _dump(api)
    assert len(pages) > 1
    for number, data in enumerate(pages):
        page = json.loads(data)
        assert data == json.dumps(page, separators=(",", ":"), sort_keys=True)
        assert ("schema" in page) == (number == 0)
