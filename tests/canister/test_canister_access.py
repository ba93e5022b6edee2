"""The permission matrix: every operation by the owner, another user, the anonymous principal and an
admin, for each kind of type policy. Every denial is an Err and leaves the canister unchanged."""

import itertools

import pytest
from canister_fixtures import fingerprint
from canister_harness import field, policy, text, type_def, user

ROLES = ("owner", "other", "anonymous", "admin")
_serial = itertools.count(1)


def as_role(db, role):
    return {"owner": db.alice, "other": db.bob, "anonymous": db.anon, "admin": db.admin}[role]


SKUS = {}
TAGS = {}


def new_item(db) -> int:
    n = next(_serial)
    item = db.alice.ok(
        "create", "shop::Item", [field("name", text(f"item{n}")), field("sku", text(f"A-{n}"))]
    )
    SKUS[item["id"]] = f"A-{n}"
    return item["id"]


def new_tag(db, caller=None) -> int:
    return (caller or db.alice).ok("create", "shop::Tag", [field("label", text(f"t{next(_serial)}"))])["id"]


# operation -> (call(caller, db, item_id), outcome per role) for shop::Item: Public/Anyone/Owner/Owner
WRITE = {"owner": "Ok", "other": "Forbidden", "anonymous": "Unauthenticated", "admin": "Ok"}
READ = {"owner": "Ok", "other": "Ok", "anonymous": "Ok", "admin": "Ok"}
ADMIN_ONLY = {"owner": "Forbidden", "other": "Forbidden", "anonymous": "Unauthenticated", "admin": "Ok"}
OPERATIONS = {
    "create": (
        lambda c, db, i: c.call("create", "shop::Item", [field("name", text("new"))]),
        {"owner": "Ok", "other": "Ok", "anonymous": "Unauthenticated", "admin": "Ok"},
    ),
    "get": (lambda c, db, i: c.call("get", "shop::Item", i), READ),
    "find": (lambda c, db, i: c.call("find", "shop::Item", SKUS[i]), READ),
    "list": (lambda c, db, i: c.call("list", "shop::Item", [], [], 10), READ),
    "count": (lambda c, db, i: c.call("count", "shop::Item", []), READ),
    "links": (lambda c, db, i: c.call("links", "shop::Item", i, "tags", [], 10), READ),
    "update": (
        lambda c, db, i: c.call("update", "shop::Item", i, [field("price", {"Float": 2.5})], []),
        WRITE,
    ),
    "delete": (lambda c, db, i: c.call("delete", "shop::Item", i), WRITE),
    "transfer": (lambda c, db, i: c.call("transfer", "shop::Item", i, user("carol")), WRITE),
    "link": (lambda c, db, i: c.call("link", "shop::Item", i, "tags", TAGS[i]), WRITE),
    "unlink": (lambda c, db, i: c.call("unlink", "shop::Item", i, "tags", 1), WRITE),
    "batch": (
        lambda c, db, i: c.call(
            "batch",
            [
                {
                    "Update": {
                        "type_name": "shop::Item",
                        "id": i,
                        "fields": [field("qty", {"Int": 3})],
                        "expected_version": [],
                    }
                }
            ],
        ),
        WRITE,
    ),
    "define_type": (lambda c, db, i: c.call("define_type", type_def(f"x::T{i}", []), False), ADMIN_ONLY),
    "dump": (lambda c, db, i: c.call("dump", [], 1), ADMIN_ONLY),
    "restore": (
        lambda c, db, i: c.call("restore", '{"format":"kybra-simple-db-dump/1","records":[]}'),
        ADMIN_ONLY,
    ),
    "add_admin": (lambda c, db, i: c.call("add_admin", user(f"helper{i}")), ADMIN_ONLY),
    "remove_admin": (
        lambda c, db, i: c.call("remove_admin", user("nobody")),
        {"owner": "Forbidden", "other": "Forbidden", "anonymous": "Unauthenticated", "admin": "Conflict"},
    ),
}


def outcome(result: dict) -> str:
    return "Ok" if "Ok" in result else next(iter(result["Err"]))


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(db, operation, role):
    item = new_item(db)
    TAGS[item] = new_tag(db, db.admin)
    call, expected = OPERATIONS[operation]
    before = fingerprint(db.admin) if expected[role] != "Ok" else None
    result = call(as_role(db, role), db, item)
    assert outcome(result) == expected[role], result
    if before is not None:
        assert fingerprint(db.admin) == before


def test_owner_read_policy_hides_entities_from_others(db):
    mine = db.alice.ok("create", "vault::Secret", [field("note", text("pin 1234"))])["id"]
    db.bob.ok("create", "vault::Secret", [field("note", text("bob's"))])
    assert db.alice.ok("get", "vault::Secret", mine)["id"] == mine
    assert db.admin.ok("get", "vault::Secret", mine)["id"] == mine
    assert db.bob.err("get", "vault::Secret", mine)[0] == "NotFound"  # as if absent: nothing leaks
    assert db.anon.err("get", "vault::Secret", mine)[0] == "NotFound"
    owners = {e["owner"].to_str() for e in db.alice.ok("list", "vault::Secret", [], [], 100)["items"]}
    assert owners == {db.alice.text}
    assert db.anon.ok("list", "vault::Secret", [], [], 100)["items"] == []
    assert db.bob.err("count", "vault::Secret", [])[0] == "Forbidden"
    assert db.admin.ok("count", "vault::Secret", []) == 2


def test_admin_create_and_modify_policy(db):
    assert db.alice.err("create", "ops::Config", [field("key", text("k"))])[0] == "Forbidden"
    config = db.admin.ok("create", "ops::Config", [field("key", text("k"))])["id"]
    db.admin.ok("transfer", "ops::Config", config, db.alice.principal)
    # even as its owner, a non-admin cannot modify an Admins-modify type
    assert db.alice.err("update", "ops::Config", config, [field("key", text("x"))], [])[0] == "Forbidden"
    assert db.alice.call("delete", "ops::Config", config) == {"Ok": None}


def test_admin_read_policy(db):
    entry = db.alice.ok("create", "ops::Ledger", [field("entry", text("e1"))])["id"]
    assert db.alice.err("get", "ops::Ledger", entry)[0] == "Forbidden"
    assert db.alice.err("list", "ops::Ledger", [], [], 10)[0] == "Forbidden"
    assert db.admin.ok("get", "ops::Ledger", entry)["id"] == entry
    assert db.alice.err("delete", "ops::Ledger", entry)[0] == "Forbidden"


def test_transfer_moves_ownership(db):
    item = new_item(db)
    moved = db.alice.ok("transfer", "shop::Item", item, db.bob.principal)
    assert moved["owner"].to_str() == db.bob.text
    assert moved["creator"].to_str() == db.alice.text
    assert db.alice.err("update", "shop::Item", item, [field("qty", {"Int": 2})], [])[0] == "Forbidden"
    assert (
        db.bob.ok("update", "shop::Item", item, [field("qty", {"Int": 2})], [])["updater"].to_str()
        == db.bob.text
    )
    assert db.bob.err("transfer", "shop::Item", item, user("x").anonymous())[0] == "Invalid"


def test_admins_are_managed_by_admins(db):
    helper = user("helper-admin")
    assert db.admin.call("add_admin", helper) == {"Ok": None}
    assert helper.to_str() in {p.to_str() for p in db.anon.call("admins")}
    assert db.admin.err("add_admin", helper)[0] == "Conflict"
    assert db.admin.err("add_admin", user("x").anonymous())[0] == "Invalid"
    assert db.admin.call("remove_admin", helper) == {"Ok": None}
    assert helper.to_str() not in {p.to_str() for p in db.anon.call("admins")}


def test_audit_shows_non_admins_public_types_and_their_own_calls(db):
    new_item(db)  # alice's call on a Public-read type (so the test holds when run on its own)
    db.alice.ok("create", "vault::Secret", [field("note", text("hidden"))])
    db.bob.ok("create", "vault::Secret", [field("note", text("bob sees this"))])
    entries = db.bob.ok("audit", 0, [], 100)
    seen = entries["items"]
    while entries["next"]:
        entries = db.bob.ok("audit", entries["next"][0], [], 100)
        seen += entries["items"]
    secrets = [e for e in seen if e["type_name"] == "vault::Secret"]
    assert secrets and all(e["caller"] == db.bob.text for e in secrets)
    assert any(e["type_name"] == "shop::Item" and e["caller"] != db.bob.text for e in seen)


def test_whoami_reports_each_caller(db):
    for caller in (db.alice, db.bob, db.anon, db.admin):
        assert caller.call("whoami").to_str() == caller.text


def test_define_type_refuses_anonymous_and_users(db):
    typedef = type_def("x::Blocked", [], access=policy())
    assert db.anon.err("define_type", typedef, False)[0] == "Unauthenticated"
    assert db.bob.err("define_type", typedef, False)[0] == "Forbidden"
    assert "x::Blocked" not in {t["name"] for t in db.admin.call("schema")}
