"""An upgrade over stable memory written by the code before issue 14's heap caches (commit 7b9ced2):
the "chain" record it kept current, its index nodes, count trees and certified tree. The new heap must
publish the same certified root, chain new blocks onto the old tip, splice new index entries into the
old nodes and answer gets, counts and ordered queries as the data says. Service layer on memory maps.

tests/canister/data/stable_image_7b9ced2.json holds those maps: written by that commit's canister/src
(200 entities of two indexed types, one certified; updates and deletes; three cascades of stepwise
deletes queued in the older single queue of jobs).
"""

import json
import sys
import time
from pathlib import Path

from kybra.compiler.custom_modules.principal import Principal
from kybra_simple_db import MemoryMap
from service_maps import ADMIN, forget_module_caches
from simple_db_client.certified import verify_chain, verify_entity, verify_tip

from localnet.data_certificates import DataCertificates
from localnet.subnet_keys import SubnetKeys

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import db_api  # noqa: E402
import entity_merkle  # noqa: E402
from certification import Certifier  # noqa: E402
from undo_map import UndoMap  # noqa: E402

IMAGE = Path(__file__).parent / "data" / "stable_image_7b9ced2.json"
ALICE = "mnnk5-gfqmo-4omau-3uj75-wcco3-qwour-lsvsv-tmcw3-2kwze-f6orv-yqe"
BOB = "rrkah-fqaaa-aaaaa-aaaaq-cai"
CANISTER = b"\x00\x00\x00\x00\x00\x00\x00\x01\x01\x01"
KEYS = SubnetKeys.generate()
SIZES = {"db": (0, 128, 1024), "audit": (1, 80, 1024), "meta": (2, 128, 16384), "cert": (3, 128, 1100)}


class Upgraded:
    """A canister upgraded over the old image: a new heap (DbApi) and `after_upgrade`."""

    def __init__(self):
        image = json.loads(IMAGE.read_text())
        self.old_certified = bytes.fromhex(image["certified_data"])
        self.maps = {}
        for name, (memory_id, key_size, value_size) in SIZES.items():
            stored = MemoryMap(memory_id, key_size, value_size)
            for key, value in image["maps"][name]:
                stored.insert(key, value)
            self.maps[name] = (stored, key_size, value_size)
        self.certified_data = None
        self.certificates = DataCertificates(KEYS, time.time_ns)
        forget_module_caches()   # what a new heap starts without
        self.api = db_api.DbApi(
            self.maps, clock=time.time_ns, principal=Principal.from_str, set_certified_data=self._set,
            data_certificate=lambda: self.certificates.certificate(CANISTER, self.certified_data))
        self.api.after_upgrade()

    def _set(self, data: bytes) -> None:
        self.certified_data = data


def _rows(api, type_name: str) -> dict:
    """id -> (title, n) of every entity of the type, by get (ids of the image stay below 200)."""
    rows = {}
    for eid in range(1, 210):
        reply = api.get(ADMIN, type_name, eid)
        if "Ok" in reply:
            values = {f["name"]: next(iter(f["value"].values())) for f in reply["Ok"]["fields"]}
            rows[eid] = (values["title"], values["n"])
    return rows


def _check_reads(svc: Upgraded, type_name: str, rows: dict) -> None:
    api = svc.api
    for title in {r[0] for r in rows.values()} | {"missing"}:
        counted = api.count(ADMIN, type_name, [{"name": "title", "value": {"Text": title}}])["Ok"]
        assert counted == sum(1 for r in rows.values() if r[0] == title), title
    found = []
    cursor = None
    while True:
        request = {"type_name": type_name, "filters": [], "order": {"field": "n", "descending": False},
                   "cursor": cursor, "limit": 50}
        page = api.query(ADMIN, request)["Ok"]
        found += [e["id"] for e in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert found == sorted(rows, key=lambda i: (rows[i][1], i))
    title = next(iter(rows.values()))[0]
    request = {"type_name": type_name, "order": None, "cursor": None, "limit": 100,
               "filters": [{"field": "title", "op": {"Eq": None}, "values": [{"Text": title}]}]}
    matched = [e["id"] for e in api.query(ADMIN, request)["Ok"]["items"]]
    assert matched == sorted(i for i in rows if rows[i][0] == title)


def _check_certification(svc: Upgraded, doc_ids) -> None:
    entity_merkle._DIGESTS.clear()
    entity_merkle._PARSED.clear()
    fresh = Certifier(svc.maps["cert"][0], UndoMap(svc.maps["meta"][0]), None, None)
    assert fresh.root_digest() == svc.certified_data
    result = svc.api.icrc3_get_blocks(ADMIN, [{"start": 0, "length": 100}])
    length = result["log_length"]
    blocks = []
    for start in range(0, length, 100):
        page = svc.api.icrc3_get_blocks(ADMIN, [{"start": start, "length": 100}])
        blocks += [(b["id"], b["block"]) for b in page["blocks"]]
    last_index, last_hash = verify_tip(svc.api.icrc3_get_tip_certificate(), CANISTER, KEYS.root_key_der)
    assert last_index == length - 1
    verify_chain(blocks, last_index, last_hash)
    for eid in doc_ids:
        reply = svc.api.get_certified(ALICE, "u::Doc", eid)["Ok"]
        assert verify_entity(reply, "u::Doc", eid, CANISTER, KEYS.root_key_der) is not None


def test_an_upgrade_over_the_old_image_keeps_root_chain_and_indexes():
    svc = Upgraded()
    assert svc.certified_data == svc.old_certified   # the same root, before any message
    docs, items = _rows(svc.api, "u::Doc"), _rows(svc.api, "u::Item")
    assert len(docs) == 40 and len(items) == 160 - 18
    _check_reads(svc, "u::Item", items)
    _check_reads(svc, "u::Doc", docs)
    _check_certification(svc, list(docs)[:5])


def test_messages_after_the_upgrade_chain_on_and_splice_into_old_nodes():
    svc = Upgraded()
    api = svc.api
    items = _rows(api, "u::Item")
    docs = _rows(api, "u::Doc")
    for i, title in enumerate(["alpha", "é-delta", "beta-x-x", "gamma", "zz", "alpha"]):
        created = api.create(ALICE, "u::Item", [{"name": "title", "value": {"Text": title}},
                                                {"name": "n", "value": {"Int": i - 3}}])["Ok"]
        items[created["id"]] = (title, i - 3)
    owned = [i for i in items if api.get(ADMIN, "u::Item", i)["Ok"]["owner"].to_str() == ALICE]
    for eid in owned[:6]:
        assert "Ok" in api.update(ALICE, "u::Item", eid, [{"name": "title", "value": {"Text": "beta"}}], None)
        items[eid] = ("beta", items[eid][1])
    for eid in owned[6:9]:
        assert "Ok" in api.delete(ALICE, "u::Item", eid)
        del items[eid]
    doc = api.create(BOB, "u::Doc", [{"name": "title", "value": {"Text": "new doc"}}])["Ok"]
    docs[doc["id"]] = ("new doc", None)
    assert "Ok" in api.update(ALICE, "u::Doc", 2, [{"name": "n", "value": {"Int": -1}}], None)
    docs[2] = (docs[2][0], -1)
    assert "Ok" in api.delete(BOB, "u::Doc", 1)
    del docs[1]
    assert _rows(api, "u::Item") == items
    assert _rows(api, "u::Doc") == docs
    _check_reads(svc, "u::Item", items)
    _check_certification(svc, [2, 3, doc["id"]])
    svc2_root = svc.certified_data
    api.after_upgrade()   # and once more: the chain record still names the old start
    assert svc.certified_data == svc2_root
    assert "Ok" in api.update(ALICE, "u::Doc", 2, [{"name": "n", "value": {"Int": 5}}], None)
    _check_certification(svc, [2, doc["id"]])


def test_stepwise_deletes_queued_by_the_old_code_finish_in_turn_after_the_upgrade():
    """The old code left three cascades queued in its single queue of jobs (alice's two hubs, then
    bob's); the timer's steps after the upgrade serve the callers in turn and delete every leaf, and the
    chain and root stay verifiable."""
    svc = Upgraded()
    api = svc.api
    assert api.gateway.delete_jobs_queued()
    served = []
    step = api.gateway.continue_delete
    api.gateway.continue_delete = lambda type_name, entity_id: served.append(entity_id) or step(
        type_name, entity_id)
    timer_calls = 0
    while api.gateway.delete_jobs_queued():     # what the timer does while anything may be queued
        api.continue_deletes()
        timer_calls += 1
        assert timer_calls < 20
    assert served == [1, 3, 2]      # alice's first hub, bob's, alice's second: callers in turn
    for type_name in ("u::Hub", "u::Leaf"):
        assert api.count(ADMIN, type_name, [])["Ok"] == 0
    _check_certification(svc, [3])
