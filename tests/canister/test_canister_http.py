"""Every endpoint over the IC HTTP interface with ic-py agents (several identities, Ed25519 and
secp256k1, and anonymous): real Candid, real envelopes, what a Python app sees."""

import json

import pytest
from canister_fixtures import ITEM, TAG
from canister_harness import ENTRY, AgentCaller, Rejected, field, fields_of, text
from ic.agent import Agent
from ic.client import Client
from ic.identity import Identity
from ic.principal import Principal

from localnet import LocalNet

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # httpx, as ic-py calls it


@pytest.fixture(scope="module")
def http():
    with LocalNet(port=0) as net:
        admin_identity = Identity()
        cid = net.replica.deploy("simple_db", ENTRY, controllers=[admin_identity.sender().bytes])
        db = Principal(cid).to_str()

        def caller(identity):
            return AgentCaller(Agent(identity, Client(net.url)), db)

        yield {
            "admin": caller(admin_identity),
            "alice": caller(Identity()),
            "bob": caller(Identity(type="secp256k1")),
            "anon": caller(Identity(anonymous=True)),
        }


def test_every_endpoint_over_http(http):
    admin, alice, bob, anon = http["admin"], http["alice"], http["bob"], http["anon"]
    assert anon.call("whoami").to_str() == "2vxsx-fae"
    assert bob.call("whoami").to_str() == bob.principal.to_str()
    assert [p.to_str() for p in anon.call("admins")] == [admin.principal.to_str()]
    assert admin.call("define_type", ITEM, False) == {"Ok": None}
    assert admin.call("define_type", TAG, False) == {"Ok": None}
    assert {"shop::Item", "shop::Tag"} <= {t["name"] for t in anon.call("schema")}

    item = alice.ok("create", "shop::Item", [field("name", text("lamp")), field("sku", text("L-1"))])
    assert item["owner"].to_str() == alice.principal.to_str()
    tag = bob.ok("create", "shop::Tag", [field("label", text("light"))])
    assert tag["owner"].to_str() == bob.principal.to_str()
    assert anon.ok("get", "shop::Item", item["id"])["id"] == item["id"]
    assert anon.ok("find", "shop::Item", "L-1")["id"] == item["id"]
    updated = alice.ok("update", "shop::Item", item["id"], [field("qty", {"Int": 4})], [1])
    assert fields_of(updated)["qty"] == {"Int": 4} and updated["version"] == 2
    assert bob.call("link", "shop::Tag", tag["id"], "items", item["id"]) == {"Ok": None}
    assert anon.ok("links", "shop::Item", item["id"], "tags", [], 10)["items"] == [tag["id"]]
    assert alice.call("unlink", "shop::Item", item["id"], "tags", tag["id"]) == {"Ok": None}
    page = anon.ok("list", "shop::Item", [field("name", text("lamp"))], [], 10)
    assert [e["id"] for e in page["items"]] == [item["id"]] and page["next"] == []
    assert anon.ok("count", "shop::Item", []) == 1
    results = alice.ok(
        "batch",
        [
            {"Create": {"type_name": "shop::Item", "fields": [field("name", text("desk"))]}},
            {
                "Update": {
                    "type_name": "shop::Item",
                    "id": item["id"],
                    "fields": [field("active", {"Bool": False})],
                    "expected_version": [],
                }
            },
        ],
    )
    assert len(results) == 2 and "Entity" in results[0]
    moved = alice.ok("transfer", "shop::Item", item["id"], bob.principal)
    assert moved["owner"].to_str() == bob.principal.to_str()
    assert bob.call("delete", "shop::Item", item["id"]) == {"Ok": None}

    audit = admin.ok("audit", 0, [], 100)
    callers = {e["caller"] for e in audit["items"]}
    assert {alice.principal.to_str(), bob.principal.to_str()} <= callers
    dump = admin.ok("dump", [], 100)
    records = json.loads(dump["data"])["records"]
    assert {r["type"] for r in records if "id" in r} == {"shop::Item", "shop::Tag"}
    assert admin.call("restore", json.dumps({"format": "kybra-simple-db-dump/1", "records": []})) == {"Ok": 0}
    stats = anon.call("stats")
    assert stats["entities"] == 2 and stats["audit_length"] == len(audit["items"])
    assert admin.call("add_admin", bob.principal) == {"Ok": None}
    assert bob.call("remove_admin", bob.principal) == {"Ok": None}
    assert [p.to_str() for p in anon.call("admins")] == [admin.principal.to_str()]


def test_denials_over_http(http):
    admin, alice, bob, anon = http["admin"], http["alice"], http["bob"], http["anon"]
    before = admin.call("stats")
    assert anon.err("create", "shop::Tag", [field("label", text("x"))])[0] == "Unauthenticated"
    tag = alice.ok("create", "shop::Tag", [field("label", text("mine"))])
    assert bob.err("update", "shop::Tag", tag["id"], [field("label", text("yours"))], [])[0] == "Forbidden"
    assert bob.err("dump", [], 10)[0] == "Forbidden"
    assert alice.err("create", "shop::Tag", [field("label", {"Bool": True})])[0] == "Invalid"
    after = admin.call("stats")
    assert after["entities"] == before["entities"] + 1 and after["audit_length"] == before["audit_length"] + 1


def test_malformed_candid_over_http_is_rejected(http):
    alice = http["alice"]
    with pytest.raises(Rejected):
        alice.raw("create", b"DIDL\x00\x01\x71\x02hi")
    with pytest.raises(Rejected):
        alice.raw("get", b"garbage")
