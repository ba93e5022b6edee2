"""SimpleDB against a real canister on localnet: every endpoint, identities, errors, paging, certificates."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from simple_db_client import (
    CertificateError,
    Conflict,
    Create,
    Delete,
    Ed25519Identity,
    FieldDef,
    Forbidden,
    Identity,
    Invalid,
    Link,
    NotFound,
    P256Identity,
    Policy,
    Principal,
    RejectError,
    RelationDef,
    Secp256k1Identity,
    SimpleDB,
    SimpleDBError,
    Timestamp,
    TypeDef,
    Unauthenticated,
    Update,
    from_pem_file,
)

VECTORS = Path(__file__).parent / "vectors"


def person_type(ns) -> TypeDef:
    return TypeDef(
        name=ns("Person"),
        fields=[
            FieldDef("name", "Text", required=True, max=100),
            FieldDef("email", "Text", indexed=True),
            FieldDef("age", "Int", min=0, max=200, indexed=True),
            FieldDef("height", "Float"),
            FieldDef("active", "Bool", default=True),
            FieldDef("friend", "Principal"),
            FieldDef("born", "Timestamp"),
        ],
        alias="email",
        relations=[RelationDef("pets", "OneToMany", ns("Pet"), "owner_person", "SetNull")],
        policy=Policy(read="Public", create="Anyone", modify="Owner", delete="Owner"),
    )


def pet_type(ns) -> TypeDef:
    return TypeDef(name=ns("Pet"), fields=[FieldDef("name", "Text", required=True)])


@pytest.fixture
def types(admin_db, namespace):
    admin_db.define_type(pet_type(namespace))
    admin_db.define_type(person_type(namespace))
    return namespace


@pytest.mark.parametrize(
    "identity",
    [
        Identity(),
        Ed25519Identity(),
        Secp256k1Identity(),
        P256Identity(),
        from_pem_file(VECTORS / "icp_seed_ed25519.pem"),
        from_pem_file(VECTORS / "dfx_secp256k1.pem"),
    ],
    ids=repr,
)
def test_whoami_matches_the_local_principal_for_every_key_type(net, identity):
    with net.client(identity) as db:
        assert db.whoami() == identity.principal


def test_schema_round_trips_a_defined_type(admin_db, types):
    person = next(t for t in admin_db.schema() if t.name == types("Person"))
    expected = person_type(types)
    assert [f.name for f in person.fields] == [f.name for f in expected.fields]
    assert person.fields[0] == FieldDef("name", "Text", required=True, max=100.0)
    assert person.fields[4].default is True
    assert person.alias == "email" and person.relations[0].target == types("Pet")
    assert person.policy == expected.policy
    pet_name = admin_db.type(types("Pet")).fields[0]
    assert (pet_name.name, pet_name.kind, pet_name.required) == ("name", "Text", True)


def test_create_get_update_delete_with_every_value_kind(net, types):
    user = Ed25519Identity()
    born = Timestamp.from_ns(946_684_800_123_456_789)
    with net.client(user) as db:
        created = db.create(
            types("Person"),
            name="Ada",
            email="ada@example.org",
            age=36,
            height=1.7,
            friend=Principal.anonymous(),
            born=born,
        )
        assert created.version == 1 and created.owner == user.principal == created.creator
        assert created.fields == {
            "name": "Ada",
            "email": "ada@example.org",
            "age": 36,
            "height": 1.7,
            "active": True,
            "friend": Principal.anonymous(),
            "born": born,
        }
        assert created["born"].nanoseconds == born.nanoseconds
        assert created.created_at <= datetime.now(timezone.utc)
        assert db.get(types("Person"), created.id) == created
        assert db.find(types("Person"), "ada@example.org").id == created.id
        updated = db.update(types("Person"), created.id, {"age": 37, "height": None}, expected_version=1)
        assert updated.version == 2 and updated["age"] == 37 and updated["height"] is None
        assert updated["name"] == "Ada"
        with pytest.raises(Conflict):
            db.update(types("Person"), created.id, {"age": 38}, expected_version=1)
        assert db.get(types("Person"), created.id)["age"] == 37
        db.delete(types("Person"), created.id)
        with pytest.raises(NotFound):
            db.get(types("Person"), created.id)
        with pytest.raises(NotFound):   # the delete finished in its message: nothing to continue
            db.delete_continue(types("Person"), created.id)


def test_identical_updates_are_both_executed(net, types):
    with net.client(Ed25519Identity()) as db:
        first = db.create(types("Pet"), name="Rex")
        second = db.create(types("Pet"), name="Rex")
        assert first.id != second.id
        assert db.count(types("Pet")) >= 2


def test_refusals_raise_one_exception_class_per_error_kind(net, admin_db, types):
    with net.client() as anonymous:
        with pytest.raises(Unauthenticated):
            anonymous.create(types("Pet"), name="Rex")
    owner, other = net.client(Ed25519Identity()), net.client(Ed25519Identity())
    pet = owner.create(types("Pet"), name="Rex")
    with pytest.raises(Forbidden):
        other.update(types("Pet"), pet.id, name="Stolen")
    with pytest.raises(Forbidden):
        other.define_type(pet_type(lambda n: "x::" + n))
    with pytest.raises(Invalid):
        owner.create(types("Person"), name="Bob", age="old")
    with pytest.raises(Invalid):
        owner.create(types("Person"), name="Bob", nosuchfield=1)
    with pytest.raises(NotFound):
        owner.get("no::Such", 1)
    with pytest.raises(SimpleDBError):
        owner.create(types("Person"), name="x" * 101)
    assert owner.get(types("Pet"), pet.id)["name"] == "Rex"
    for db in (owner, other):
        db.close()


def test_a_query_reject_is_raised_not_returned(net):
    with net.client() as db:
        with pytest.raises(RejectError) as info:
            db.agent.query(db.canister_id, "no_such_method", b"DIDL\x00\x00")
        assert info.value.code in (3, 4, 5)


def test_replies_are_checked_against_the_root_key(net):
    wrong = SimpleDB(net.url, net.canister_id, Ed25519Identity())  # mainnet root key: not localnet's
    with pytest.raises(CertificateError):
        wrong.add_admin(Principal.anonymous())  # the update's certificate
    with pytest.raises(CertificateError):
        wrong.whoami()  # the certificate of the subnet's node keys that sign query replies
    right = SimpleDB(net.url, net.canister_id, Ed25519Identity(), root_key=net.localnet.root_key)
    assert right.agent.root_key == wrong.agent.fetch_root_key()
    assert right.whoami() == right.principal
    assert right.agent._node_keys  # the node key was fetched, certified, and checked the reply


def test_list_and_count_page_through_with_filters(net, types):
    with net.client(Ed25519Identity()) as db:
        ids = [db.create(types("Person"), name=f"p{i}", age=i % 3).id for i in range(7)]
        assert [e.id for e in db.list(types("Person"), page_size=3)] == ids
        first = db.list_page(types("Person"), limit=3)
        assert len(first.items) == 3 and first.next is not None
        assert [e["name"] for e in db.list(types("Person"), {"age": 1}, page_size=2)] == ["p1", "p4"]
        assert db.count(types("Person")) == 7
        assert db.count(types("Person"), {"age": 0}) == 3


def test_links_audit_batch_and_transfer(net, admin_db, types):
    user, heir = Ed25519Identity(), Ed25519Identity()
    with net.client(user) as db:
        person = db.create(types("Person"), name="Ada")
        pets = [db.create(types("Pet"), name=f"pet{i}").id for i in range(5)]
        for pet in pets:
            db.link(types("Person"), person.id, "pets", pet)
        assert list(db.links(types("Person"), person.id, "pets", page_size=2)) == pets
        assert db.get(types("Pet"), pets[0]).refs["owner_person"].target_id == person.id
        db.unlink(types("Person"), person.id, "pets", pets[0])
        assert list(db.links(types("Person"), person.id, "pets")) == pets[1:]

        before = db.count(types("Pet"))
        with pytest.raises(SimpleDBError):
            db.batch([Create(types("Pet"), {"name": "ok"}), Update(types("Pet"), 10**9, {"name": "x"})])
        assert db.count(types("Pet")) == before
        results = db.batch(
            [
                Create(types("Pet"), {"name": "new"}),
                Link(types("Person"), person.id, "pets", pets[0]),
                Delete(types("Pet"), pets[1]),
            ]
        )
        assert results[0]["name"] == "new" and results[1] is None and results[2] is None
        assert db.count(types("Pet")) == before

        moved = db.transfer(types("Person"), person.id, heir.principal)
        assert moved.owner == heir.principal and moved.creator == user.principal
        with pytest.raises(Forbidden):
            db.update(types("Person"), person.id, name="mine")

    entries = [a for a in admin_db.audit() if a.type_name == types("Person") and a.id == person.id]
    assert [a.operation for a in entries] == ["create", "transfer"]
    assert entries[0].caller == str(user.principal) and entries[0].changes["name"] == "Ada"
    pet_log = [a for a in admin_db.audit() if a.type_name == types("Pet") and a.id == pets[0]]
    assert [(a.operation, a.changes.get("owner_person")) for a in pet_log][1:] == [
        ("link", person.id),
        ("unlink", None),
        ("link", person.id),
    ]
    seqs = [a.seq for a in admin_db.audit(page_size=2)]
    assert seqs == sorted(seqs) and len(seqs) == admin_db.stats().audit_length
    window = list(admin_db.audit(start=seqs[1], end=seqs[3]))
    assert [a.seq for a in window] == seqs[1:3]


def test_admins_can_be_added_and_removed(net, admin_db):
    newcomer = Ed25519Identity()
    assert net.admin.principal in admin_db.admins()
    admin_db.add_admin(newcomer.principal)
    assert newcomer.principal in admin_db.admins()
    admin_db.remove_admin(newcomer.principal)
    assert newcomer.principal not in admin_db.admins()
    with net.client(newcomer) as db, pytest.raises(Forbidden):
        db.add_admin(newcomer.principal)


def test_stats_count_entities_per_type(net, types):
    with net.client(Ed25519Identity()) as db:
        db.create(types("Pet"), name="a")
        stats = db.stats()
        assert stats.types[types("Pet")] == 1 and stats.entities >= 1 and stats.stable_memory_bytes > 0


def test_export_then_import_into_a_fresh_canister_gives_an_identical_dump(net, admin_db, types, tmp_path):
    with net.client(Ed25519Identity()) as db:
        person = db.create(types("Person"), name="Ada", email="a@b.c", born=Timestamp.from_ns(123))
        for i in range(3):
            db.link(types("Person"), person.id, "pets", db.create(types("Pet"), name=f"p{i}").id)
    path = tmp_path / "export.jsonl"
    exported = admin_db.export_to(path, page_size=2)
    assert exported == admin_db.stats().entities
    copy = net.client(net.admin, canister_id=net.fresh_canister())
    restored = copy.import_from(path)
    assert restored == exported
    assert list(copy.dump(page_size=2)) == list(admin_db.dump(page_size=2))
    assert copy.get(types("Person"), person.id) == admin_db.get(types("Person"), person.id)
    copy.close()


def _page_names(line: str) -> set:
    """The `name` fields of the entities in one page line of an export file."""
    records = json.loads(json.loads(line)["data"])["records"]
    return {record["fields"].get("name") for record in records if "fields" in record}


def test_an_interrupted_import_resumes_with_skip_existing(net, admin_db, types, tmp_path):
    from simple_db_client.dump_file import ImportFailed

    with net.client(Ed25519Identity()) as db:
        for i in range(5):
            db.create(types("Pet"), name=f"p{i}")
    path = tmp_path / "export.jsonl"
    total = admin_db.export_to(path, page_size=2)
    lines = path.read_text().splitlines()
    partial = tmp_path / "partial.jsonl"
    # the header and the pages up to the one holding p0: other tests' types may come first
    cut = next(i for i, line in enumerate(lines) if i and _page_names(line) & {"p0"})
    partial.write_text("\n".join(lines[: cut + 1]) + "\n")
    copy = net.client(net.admin, canister_id=net.fresh_canister())
    first = copy.import_from(partial)
    assert 0 < first < total
    with pytest.raises(ImportFailed, match="skip-existing") as refused:
        copy.import_from(path)
    first_entity_page = next(i for i, line in enumerate(lines) if i and _page_names(line))
    assert refused.value.kind == "Conflict" and refused.value.page == first_entity_page
    assert copy.import_from(path, skip_existing=True) == total - first
    assert list(copy.dump(page_size=2)) == list(admin_db.dump(page_size=2))
    assert copy.import_from(path, skip_existing=True) == 0
    copy.close()


def test_bad_inputs_are_refused_before_sending(admin_db, types):
    before = admin_db.count(types("Pet"))
    with pytest.raises(TypeError, match="unsupported value"):
        admin_db.create(types("Pet"), {"name": b"bytes"})
    with pytest.raises(ValueError, match=r"get\(\): id must be a natural number"):
        admin_db.get(types("Pet"), -1)
    with pytest.raises(TypeError, match=r"get\(\): type_name must be a str, not type"):
        admin_db.get(type, "1")
    with pytest.raises(TypeError, match=r"get\(\): id must be an int, not str '1'"):
        admin_db.get(types("Pet"), "1")
    with pytest.raises(TypeError, match=r"links\(\): start must be an int"):
        admin_db.links_page(types("Pet"), 1, "owner", start="x")
    with pytest.raises(TypeError, match="delete"):
        admin_db.delete(types("Pet"), 1.5)
    assert admin_db.count(types("Pet")) == before
    with pytest.raises(ValueError):
        admin_db.define_type(TypeDef("x::T", [FieldDef("a", "Blob")]))
    with pytest.raises(ValueError):
        SimpleDB("http://127.0.0.1:1", "not-a-principal")
