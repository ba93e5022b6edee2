"""Shared setup for the canister tests: a Replica with simple_db installed by an admin, callers for
several principals, the test schema, and a state snapshot to prove that refused calls change nothing."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from canister_harness import (
    ANONYMOUS,
    ENTRY,
    ReplicaCaller,
    decode_reply,
    encode_args,
    field_def,
    plain,
    policy,
    relation_def,
    type_def,
    user,
)
from simple_db_client.certified import verify_chain, verify_entity, verify_tip

from localnet.data_certificates import DataCertificates
from localnet.outcome import Reply
from localnet.replica import Replica
from localnet.state_store import read_stable_rows

ITEM = type_def(
    "shop::Item",
    [
        field_def("name", "Text", required=True, low=1, high=40, indexed=True),
        field_def("price", "Float", low=0),
        field_def("qty", "Int", default={"Int": 1}, low=0, high=1000),
        field_def("active", "Bool", default={"Bool": True}),
        field_def("seller", "Principal", indexed=True),
        field_def("listed_at", "Timestamp"),
        field_def("sku", "Text", high=16),
    ],
    alias="sku",
)
TAG = type_def(
    "shop::Tag",
    [field_def("label", "Text", required=True, high=30, indexed=True)],
    relations=[relation_def("items", "ManyToMany", "shop::Item", "tags")],
)
REVIEW = type_def(
    "shop::Review",
    [field_def("stars", "Int", required=True, low=1, high=5)],
    relations=[relation_def("item", "ManyToOne", "shop::Item", "reviews", "Cascade")],
)
SECRET = type_def("vault::Secret", [field_def("note", "Text")], access=policy(read="Owner"))
CONFIG = type_def("ops::Config", [field_def("key", "Text")], access=policy(create="Admins", modify="Admins"))
LEDGER = type_def("ops::Ledger", [field_def("entry", "Text")], access=policy(read="Admins", delete="Admins"))
SCHEMA = [ITEM, TAG, REVIEW, SECRET, CONFIG, LEDGER]


def deploy(replica: Replica, admin=None, name: str = "simple_db", entry: Path = ENTRY) -> bytes:
    admin = admin or user("admin")
    return replica.deploy(name, entry, controllers=[admin.bytes])


def small_share_copy(tmp: Path, share: int) -> Path:
    """canister/src copied to `tmp` with the engine's per-message delete share (DEFAULT_DELETE_BUDGET)
    set to `share`, so a few entities need several timer steps; its main.py."""
    source = tmp / "src"
    shutil.copytree(ENTRY.parent, source, ignore=shutil.ignore_patterns("__pycache__"))
    engine = source / "kybra_simple_db" / "db_engine.py"
    text, replaced = re.subn(r"^DEFAULT_DELETE_BUDGET = \d+", f"DEFAULT_DELETE_BUDGET = {share}",
                             engine.read_text(), flags=re.M)
    assert replaced == 1, "the engine's delete share is no longer DEFAULT_DELETE_BUDGET in db_engine.py"
    engine.write_text(text)
    return source / ENTRY.name


def callers(replica: Replica, cid: bytes) -> SimpleNamespace:
    return SimpleNamespace(
        cid=cid,
        replica=replica,
        admin=ReplicaCaller(replica, cid, user("admin")),
        alice=ReplicaCaller(replica, cid, user("alice")),
        bob=ReplicaCaller(replica, cid, user("bob")),
        anon=ReplicaCaller(replica, cid, ANONYMOUS),
    )


def define_schema(admin: ReplicaCaller) -> None:
    for typedef in SCHEMA:
        assert admin.call("define_type", typedef, False) == {"Ok": None}


def dump_all(admin: ReplicaCaller, limit: int = 100) -> list:
    """Every dump page, parsed."""
    pages, cursor = [], []
    while True:
        page = admin.ok("dump", cursor, limit)
        pages.append(json.loads(page["data"]))
        if not page["next"]:
            return pages
        cursor = page["next"]  # opt text, as ic-py decodes it: [cursor]


def audit_all(caller: ReplicaCaller) -> list:
    """Every audit entry the caller may see, page by page."""
    items, start = [], 0
    while True:
        page = caller.ok("audit", start, [], 100)
        items.extend(page["items"])
        if not page["next"]:
            return items
        start = page["next"][0]


def snapshot(admin: ReplicaCaller) -> tuple:
    """Everything a caller can observe: stats, schema, the whole dump and the whole audit log."""
    return plain(
        (admin.call("stats"), admin.call("schema"), dump_all(admin), audit_all(admin), admin.call("admins"))
    )


@pytest.fixture(scope="module")
def shared_replica():
    with Replica() as replica:
        yield replica


@pytest.fixture(scope="module")
def db(shared_replica):
    """simple_db installed by `admin`, with the test schema defined."""
    net = callers(shared_replica, deploy(shared_replica))
    define_schema(net.admin)
    return net


def fingerprint(admin: ReplicaCaller) -> tuple:
    """A cheap stand-in for `snapshot` when proving that a refused call changed nothing: a digest of
    every stable-memory row the replica has committed for the canister (data, audit and meta maps),
    plus what the heap answers (stats, schema, admins)."""
    digest = hashlib.sha256()
    for memory, key, value in sorted(read_stable_rows(admin.replica.db_path, admin.canister_id)):
        digest.update(b"%d:%d:%d:" % (memory, len(key), len(value)) + key + value)
    return plain((digest.hexdigest(), admin.call("stats"), admin.call("schema"), admin.call("admins")))


def with_types(net, types: list) -> SimpleNamespace:
    """`net` with `types` defined by its admin and a fourth user, `mallory`, to attack the others."""
    for typedef in types:
        assert net.admin.call("define_type", typedef, False) == {"Ok": None}
    net.mallory = ReplicaCaller(net.replica, net.cid, user("mallory"))
    return net


def certified_query(net, keys, method: str, *args):
    """`method` as a query that gets a data certificate (signed with the subnet `keys`) over the
    canister's certified data, as the HTTP gateway gives one."""
    certified_data = net.replica.certified_data(net.cid)
    certificate = DataCertificates(keys, time.time_ns).certificate(net.cid, certified_data)
    outcome = net.replica.query(
        net.cid, method, encode_args(method, args), net.alice.principal.bytes, data_certificate=certificate
    )
    assert isinstance(outcome, Reply), outcome
    return decode_reply(method, outcome.arg)


def verified_chain(net, keys, type_name: str | None = None, ids=()) -> tuple:
    """(last index, last hash) of the tip certificate (signed with `keys`), after checking that every
    block chains up to it and that the certified get of each of `ids` of `type_name` verifies."""
    tip = certified_query(net, keys, "icrc3_get_tip_certificate")[0]
    last_index, last_hash = verify_tip(tip, net.cid, keys.root_key_der)
    blocks = net.admin.call("icrc3_get_blocks", [{"start": 0, "length": 100}])["blocks"]
    verify_chain([(b["id"], b["block"]) for b in blocks], last_index, last_hash)
    for entity_id in ids:
        reply = certified_query(net, keys, "get_certified", type_name, entity_id)["Ok"]
        verify_entity(reply, type_name, entity_id, net.cid, keys.root_key_der)
    return last_index, last_hash
