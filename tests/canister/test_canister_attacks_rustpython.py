"""Attacks measured on Kybra's own interpreter (localnet's rustpython runtime), where the IC's instruction
limits apply: a hostile query that makes the canister read past many hidden entities must answer (Ok or
Err) within the query limit, not trap."""

from __future__ import annotations

import json
import re

import pytest
from canister_fixtures import callers, deploy, fingerprint, with_types
from canister_harness import Rejected, field, field_def, policy, relation_def, text, type_def
from test_canister_rustpython import certified_query

from localnet import rustpython_runtime
from localnet.replica import Replica

pytestmark = pytest.mark.skipif(not rustpython_runtime.available(), reason=rustpython_runtime.SKIP_REASON)

BOARD = type_def("rp::Board", [field_def("title", "Text", high=40)])
NOTE = type_def(
    "rp::Note",
    [field_def("body", "Text", high=40, indexed=True), field_def("n", "Int", indexed=True)],
    relations=[relation_def("board", "ManyToOne", "rp::Board", "notes")],
    access=policy(read="Owner"),
)


def test_reading_past_a_thousand_hidden_entities_one_at_a_time_stays_within_the_query_limit():
    """mallory asks for one entity at a time of an Owner-read type that holds 1,000 of bob's: every
    query, list, links and audit_query call reads on past them within its scan budget, and answers."""
    with Replica(runtime="rustpython") as replica:
        net = with_types(callers(replica, deploy(replica)), [BOARD, NOTE])
        board = net.mallory.ok("create", "rp::Board", [field("title", text("shared"))])["id"]
        for batch in range(10):
            ops = [
                {
                    "Create": {
                        "type_name": "rp::Note",
                        "fields": [
                            field("body", text(f"b{n}")),
                            field("n", {"Int": n}),
                            field("board", {"Int": board}),
                        ],
                    }
                }
                for n in range(batch * 100, batch * 100 + 100)
            ]
            net.bob.ok("batch", ops)
        ge = {"field": "n", "op": {"Ge": None}, "values": [{"Int": 0}]}
        for filters, order in (([], None), ([], {"field": "n", "descending": False}), ([ge], None)):
            request = {
                "type_name": "rp::Note",
                "filters": filters,
                "order": [] if order is None else [order],
                "cursor": [],
                "limit": 1,
            }
            try:
                result = net.mallory.call("query", request)
            except Rejected as exc:
                pytest.fail(f"query {filters} {order} trapped: {exc.message}")
            assert result.get("Err", {}).keys() == {"Limit"} or result["Ok"]["items"] == []
        assert net.mallory.ok("list", "rp::Note", [], [], 1)["items"] == []
        assert net.mallory.ok("links", "rp::Board", board, "notes", [], 1)["items"] == []
        audit = {
            "start": [],
            "newest_first": True,
            "type_name": ["rp::Board"],
            "id": [],
            "caller": [],
            "limit": 1,
        }
        assert net.mallory.ok("audit_query", audit)["items"] == []
        log = replica.log_path(net.cid).read_text()
        for kind, name, n in re.findall(r"\[instructions\] (\w+) (\w+): (\d+)", log):
            if name in ("query", "list", "links", "audit_query"):
                assert int(n) < rustpython_runtime.LIMITS[kind] / 2, (name, n)


NAMES = [f"{chr(97 + i % 26)}{i:02d}" + "x" * 37 for i in range(32)]
WIDE = type_def("rp::Wide", [field_def(n, "Text", high=256, indexed=True) for n in NAMES])


def test_a_batch_too_costly_for_one_message_is_a_limit_error_that_changes_nothing():
    """100 creates of a type at every limit (32 indexed fields of 256 characters) take more than the 40B
    instructions of an update: the batch answers Limit, before the IC would trap, and writes nothing."""
    with Replica(runtime="rustpython") as replica:
        net = with_types(callers(replica, deploy(replica)), [WIDE])
        ops = [
            {
                "Create": {
                    "type_name": "rp::Wide",
                    "fields": [field(n, text(f"{k:03d}" + "q" * 253)) for n in NAMES],
                }
            }
            for k in range(100)
        ]
        before = fingerprint(net.admin)
        try:
            kind, message = net.mallory.err("batch", ops)
        except Rejected as exc:
            pytest.fail(f"the batch trapped: {exc.message}")
        assert kind == "Limit" and "split it" in message
        assert fingerprint(net.admin) == before
        assert len(net.mallory.ok("batch", ops[:20])) == 20


HEAVY = type_def("rp::Heavy", [field_def(n, "Text", high=2000) for n in NAMES], access=policy(read="Owner"))
PROVEN = type_def(
    "rp::Proven", [field_def(n, "Text", high=2000) for n in NAMES], access=policy(certified=True)
)


def test_scanning_large_entities_answers_within_the_query_limit():
    """mallory stores 120 entities of 256 KB (32 fields of 2,000 four-byte characters, ~40M instructions
    to read each) in an Owner-read type. A scan over them (`query`, `query_count` and `list` by the
    admin, `query` and `list` by bob, who reads past them, and mallory's own `audit` pages, which check
    that she still owns each entity), and a `list_certified` page of such entities, stops reading at its
    instruction budget and answers."""
    with Replica(runtime="rustpython") as replica:
        net = with_types(callers(replica, deploy(replica)), [HEAVY, PROVEN])
        value = "\U0001f600" * 2000
        for type_name in ("rp::Heavy", "rp::Proven"):
            for _ in range(20):
                fields = [field(n, text(value)) for n in NAMES]
                net.mallory.ok("batch", [{"Create": {"type_name": type_name, "fields": fields}}] * 6)
        request = {
            "type_name": "rp::Heavy",
            "filters": [{"field": NAMES[3], "op": {"Eq": None}, "values": [text("nothing")]}],
            "order": [],
            "cursor": [],
            "limit": 100,
        }
        audit = {"start": [], "newest_first": True, "type_name": [], "id": [], "caller": [], "limit": 100}
        try:
            page = net.admin.ok("query", request)
            counted = net.admin.ok("query_count", request)
            listed = net.admin.ok("list", "rp::Heavy", [], [], 100)
            hidden = net.bob.call("query", request)
            unlisted = net.bob.ok("list", "rp::Heavy", [], [], 100)
            own = net.mallory.ok("audit", 0, [], 100)
            newest = net.mallory.ok("audit_query", audit)
            proven = certified_query(net.anon, "list_certified", "rp::Proven", [], 100)["Ok"]
        except Rejected as exc:
            pytest.fail(f"a scan trapped: {exc.message}")
        assert page["items"] == [] and page["next"] and not page["complete"]
        assert counted["count"] == 0 and counted["next"]
        assert listed["items"] and listed["next"]
        assert hidden.get("Err", {}).keys() == {"Limit"} or hidden["Ok"]["items"] == []
        assert unlisted["items"] == []
        assert own["items"] and newest["items"]
        assert proven["items"] and proven["next"] == [proven["items"][-1]["id"]]
        log = replica.log_path(net.cid).read_text()
        for kind, name, n in re.findall(r"\[instructions\] (\w+) (\w+): (\d+)", log):
            if kind == "query":
                assert int(n) < rustpython_runtime.LIMITS[kind] * 0.8, (name, n)


def test_a_restore_page_too_costly_for_one_message_is_a_limit_error_that_changes_nothing():
    """100 records of the type at every limit fit one restore page (820 KB of JSON) but take more than
    40B instructions to write: the restore answers Limit, before the IC would trap, and writes nothing."""
    with Replica(runtime="rustpython") as replica:
        net = with_types(callers(replica, deploy(replica)), [WIDE])
        owner = net.alice.text
        records = [
            {
                "type": "rp::Wide",
                "id": k,
                "fields": {n: f"{k:03d}" + "q" * 253 for n in NAMES},
                "refs": {},
                "links": {},
                "owner": owner,
                "creator": owner,
                "updater": owner,
                "created": 1,
                "updated": 1,
                "version": 1,
            }
            for k in range(1, 101)
        ]
        before = fingerprint(net.admin)
        page = json.dumps({"format": "kybra-simple-db-dump/1", "records": records})
        try:
            kind, message = net.admin.err("restore", page)
        except Rejected as exc:
            pytest.fail(f"the restore trapped: {exc.message}")
        assert kind == "Limit" and "split it" in message
        assert fingerprint(net.admin) == before
        page = json.dumps({"format": "kybra-simple-db-dump/1", "records": records[:20]})
        assert net.admin.ok("restore", page) == 20


def _instructions(replica, cid, method: str) -> int:
    counts = re.findall(r"\[instructions\] \w+ (\w+): (\d+)", replica.log_path(cid).read_text())
    return [int(n) for name, n in counts if name == method][-1]


def test_updating_a_large_entity_costs_about_what_creating_it_costs():
    """A one-field update of an entity whose document spans several keys (here 32 fields of 2,000
    four-byte characters) parsed the whole document with `json` to check its version: 1.45B instructions
    under Kybra's RustPython, 11 times its create, burning the canister's cycles at every update anyone
    makes. The version is read from the document's first characters, as for small documents."""
    with Replica(runtime="rustpython") as replica:
        net = with_types(callers(replica, deploy(replica)), [HEAVY])
        made = net.mallory.ok("create", "rp::Heavy", [field(n, text("\U0001f600" * 2000)) for n in NAMES])
        created = _instructions(replica, net.cid, "create")
        net.mallory.ok("update", "rp::Heavy", made["id"], [field(NAMES[0], text("b"))], [])
        assert _instructions(replica, net.cid, "update") < 2 * created



QUOTED = type_def("rp::Quoted", [field_def(n, "Text", high=2000) for n in NAMES])


def test_text_full_of_escaped_characters_costs_about_what_creating_it_costs():
    """A stored document escapes `"`, `\\` and control characters in its JSON. Reading it decoded those
    escapes a Python step each, and rejoined the text at every escaped quote: an entity of 32 fields of
    2,000 quotes took 3.2B instructions to read under Kybra's RustPython (41 times its create), so
    anyone who may create could make a `list` page of three such entities trap past the 5B query limit.
    Escapes are now decoded by whole-string replaces."""
    with Replica(runtime="rustpython") as replica:
        net = with_types(callers(replica, deploy(replica)), [QUOTED])
        for char in ('"', "\\", "\x01"):
            made = net.mallory.ok("create", "rp::Quoted", [field(n, text(char * 2000)) for n in NAMES])
            created = _instructions(replica, net.cid, "create")
            got = net.anon.ok("get", "rp::Quoted", made["id"])
            assert {f["value"]["Text"] for f in got["fields"]} == {char * 2000}
            assert _instructions(replica, net.cid, "get") < 2 * created, repr(char)
        try:
            listed = net.anon.ok("list", "rp::Quoted", [], [], 100)
        except Rejected as exc:
            pytest.fail(f"the list page trapped: {exc.message}")
        assert [e["id"] for e in listed["items"]] == [1, 2, 3]
        assert _instructions(replica, net.cid, "list") < 1_000_000_000


DUMP = "kybra-simple-db-dump/1"


def _hub_schema(types: int, short: bool = False) -> list:
    """Plain type definitions: one hub and `types` types with 16 OneToOne relations to it each (1,568
    reverse relations on the hub at 98), every name at its 40-character limit (or as short as can be)."""

    def text_field(name: str) -> dict:
        return {
            "name": name,
            "kind": "Text",
            "required": False,
            "default": None,
            "min": None,
            "max": 2000.0,
            "indexed": False,
        }

    public = {"read": "Public", "create": "Anyone", "modify": "Owner", "delete": "Owner"}
    schema = [
        {"name": "hub::Hub", "fields": [text_field("x")], "alias": None, "relations": [], "policy": public}
    ]
    for k in range(types):
        relations = [
            {
                "name": f"r{i}" if short else f"r{i:02d}" + "y" * 37,
                "kind": "OneToOne",
                "target": "hub::Hub",
                "reverse": f"b{k}_{i}" if short else f"b{k:02d}{i:02d}" + "z" * 35,
                "on_delete": "SetNull",
            }
            for i in range(16)
        ]
        schema.append(
            {
                "name": f"s{k}::T" if short else f"s{k:02d}" + "n" * 37 + "::" + "T" * 40,
                "fields": [text_field("y")],
                "alias": None,
                "relations": relations,
                "policy": public,
            }
        )
    return schema


def test_a_restored_schema_at_the_type_limits_is_defined_in_one_message():
    """The first page of a dump carries the whole schema. With 99 types, 98 of them pointing 16 relations
    each at one hub, restoring it passed the 40B instruction limit (each type defined on its own re-built
    the hub and re-resolved every relation: quadratic), so such a database could not be copied. The
    types are now checked and built together; the upgrade that reloads them stays far below its limit,
    and creating a hub (its audit entry names 1,568 relations) works."""
    with Replica(runtime="rustpython") as replica:
        net = callers(replica, deploy(replica))
        page = json.dumps({"format": DUMP, "schema": _hub_schema(98), "records": []})
        try:
            assert net.admin.ok("restore", page) == 0
        except Rejected as exc:
            pytest.fail(f"the restore trapped: {exc.message}")
        assert _instructions(replica, net.cid, "restore") < 20_000_000_000
        assert len(net.anon.call("schema")) == 100
        deploy(replica)  # an upgrade: post_upgrade rebuilds every engine class
        assert _instructions(replica, net.cid, "post_upgrade") < 30_000_000_000
        assert net.alice.ok("create", "hub::Hub", [field("x", text("a"))])["id"] == 1
        assert _instructions(replica, net.cid, "create") < 4_000_000_000


def test_a_page_of_entities_costly_to_build_stops_before_the_query_limit():
    """A hub that 1,568 to-one relations with short names point at replies with 1,568 refs of a few
    bytes each: about 0.5B instructions to build, so the 1.8 MB reply budget let a `list` or `query` page
    of 30 hubs pass the 5B query limit (anyone may call them on a Public-read type), and a dump page of
    them too. A page now takes no more items once the message has used 3.5B instructions; its `next` goes
    on from there. A dump page reads a hub cheaply (its document; the entity is loaded only for
    many-to-many links) but encodes its 1,568 refs at some 60,000 instructions each: it encodes each
    record as it reads it and stops once reading, encoding and what its text still costs pass 3B (it
    stopped reading at 1.5B and assumed encoding cost no more: 4.31B)."""
    with Replica(runtime="rustpython") as replica:
        net = callers(replica, deploy(replica))
        schema = _hub_schema(98, short=True)
        value = "\U0001f600" * 2000
        assert net.admin.ok("restore", json.dumps({"format": DUMP, "schema": schema, "records": []})) == 0
        for _ in range(3):
            net.bob.ok(
                "batch", [{"Create": {"type_name": "hub::Hub", "fields": [field("x", text(value))]}}] * 10
            )
        request = {"type_name": "hub::Hub", "filters": [], "order": [], "cursor": [], "limit": 100}
        seen, cursor = [], []
        try:
            while True:
                listed = net.anon.ok("list", "hub::Hub", [], cursor, 100)
                assert _instructions(replica, net.cid, "list") < 4_500_000_000
                seen += [e["id"] for e in listed["items"]]
                if not listed["next"]:
                    break
                cursor = listed["next"]
            queried = net.anon.ok("query", request)
        except Rejected as exc:
            pytest.fail(f"a page trapped: {exc.message}")
        assert seen == list(range(1, 31))
        assert queried["items"] and queried["next"]
        assert _instructions(replica, net.cid, "query") < 4_500_000_000
        dumped, cursor = [], []
        while True:  # a dump page (records of ~0.27B each to read and encode) stops at 3B
            try:
                page = net.admin.ok("dump", cursor, 100)
            except Rejected as exc:
                pytest.fail(f"a dump page trapped: {exc.message}")
            assert _instructions(replica, net.cid, "dump") < 4_000_000_000
            dumped += [
                r["id"]
                for r in json.loads(page["data"])["records"]
                if r.get("type") == "hub::Hub" and "id" in r
            ]
            if not page["next"]:
                break
            cursor = page["next"]
        assert dumped == list(range(1, 31))


def test_a_dump_page_of_entities_too_large_to_share_one_costs_about_one_entity():
    """An entity of 32 fields of 2,000 four-byte characters is 770,000 characters of dump JSON (each
    escaped as a surrogate pair), so a dump page holds one. The page read as many records as its
    instructions allowed (up to 16 of these), encoded them all, found the text over its 1,000,000
    characters and read the page again, smaller: ten entities read and encoded for one kept. Each record
    is now encoded as it is read and the page ends before one that does not fit, so a page costs about
    two entities (the one it holds and the one it refuses), each page goes on with a cursor, and nothing
    is lost."""
    with Replica(runtime="rustpython") as replica:
        net = with_types(callers(replica, deploy(replica)), [HEAVY])
        value = text("\U0001f600" * 2000)
        for _ in range(5):
            net.mallory.ok("create", "rp::Heavy", [field(n, value) for n in NAMES])
        dumped, costs, cursor = [], [], []
        while True:
            try:
                page = net.admin.ok("dump", cursor, 100)
            except Rejected as exc:
                pytest.fail(f"a dump page trapped: {exc.message}")
            costs.append(_instructions(replica, net.cid, "dump"))
            records = [r for r in json.loads(page["data"])["records"] if r.get("type") == "rp::Heavy"]
            dumped += [r["id"] for r in records if "id" in r]
            assert len(page["data"]) <= 1_000_100
            if not page["next"]:
                break
            assert len(records) == 1 and page["next"]
            cursor = page["next"]
        assert dumped == [1, 2, 3, 4, 5]
        assert max(costs) < 2.5 * costs[-1]  # the last page reads one entity (and its type's end)
