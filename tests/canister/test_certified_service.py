"""Certified data at the service layer (db_api over in-memory maps, certificates signed by localnet's
keys): entity proofs of presence and absence, the ICRC-3 chain and tip, and what is refused."""

import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kybra.compiler.custom_modules.principal import Principal
from service_maps import ADMIN, installed_api
from simple_db_client.certified import verify_chain, verify_entity, verify_page, verify_tip
from simple_db_client.errors import CertificateError

from localnet.data_certificates import DataCertificates
from localnet.subnet_keys import SubnetKeys

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import db_api  # noqa: E402
import entity_merkle  # noqa: E402
import ic_hash_tree  # noqa: E402
from certification import entity_hash  # noqa: E402

ALICE = "mnnk5-gfqmo-4omau-3uj75-wcco3-qwour-lsvsv-tmcw3-2kwze-f6orv-yqe"
CANISTER = b"\x00\x00\x00\x00\x00\x00\x00\x01\x01\x01"
KEYS = SubnetKeys.generate()


class Service:
    """A DbApi whose certified data feeds a localnet certificate, as ic.data_certificate() would."""

    def __init__(self):
        self.certified_data = b""
        self.certificates = DataCertificates(KEYS, time.time_ns)
        self.api, self.maps = installed_api(
            set_certified_data=self._set,
            data_certificate=lambda: self.certificates.certificate(CANISTER, self.certified_data),
        )

    def _set(self, data: bytes) -> None:
        assert len(data) == 32
        self.certified_data = data


def typedef(name: str, certified: bool, alias=None) -> dict:
    field = {
        "kind": {"Text": None},
        "required": False,
        "default": None,
        "min": None,
        "max": None,
        "indexed": False,
    }
    return {
        "name": name,
        "fields": [dict(field, name="title"), dict(field, name="n", kind={"Int": None})],
        "alias": alias,
        "relations": [],
        "policy": {
            "read": {"Public": None},
            "create": {"Anyone": None},
            "modify": {"Owner": None},
            "delete": {"Owner": None},
            "certified": certified,
        },
    }


def text(v):
    return {"name": "title", "value": {"Text": v}}


@pytest.fixture
def svc():
    s = Service()
    assert s.api.define_type(ADMIN, typedef("c::Doc", True, alias="title"), False) == {"Ok": None}
    assert s.api.define_type(ADMIN, typedef("c::Plain", False), False) == {"Ok": None}
    return s


def _raw(entity: dict) -> dict:
    """The Candid reply as a client decodes it (principals as text is what ic-py gives via to_str)."""
    return entity


def verify(svc, type_name, entity_id, reply=None, **kw):
    reply = reply or svc.api.get_certified(ALICE, type_name, entity_id)["Ok"]
    return verify_entity(reply, type_name, entity_id, CANISTER, KEYS.root_key_der, **kw)


def test_a_certified_get_proves_the_entity_and_its_absence(svc):
    ids = [svc.api.create(ALICE, "c::Doc", [text("doc" + str(i))])["Ok"]["id"] for i in range(40)]
    for entity_id in (ids[0], ids[17], ids[-1]):
        entity = verify(svc, "c::Doc", entity_id)
        assert entity["id"] == entity_id
    svc.api.delete(ALICE, "c::Doc", ids[17])
    for missing in (ids[17], 0, ids[-1] + 1, 10_000):
        assert verify(svc, "c::Doc", missing) is None
    svc.api.update(ALICE, "c::Doc", ids[3], [text("changed")], None)
    assert verify(svc, "c::Doc", ids[3])["fields"][0]["value"] == {"Text": "changed"}


def test_a_tampered_entity_or_witness_is_refused(svc):
    entity_id = svc.api.create(ALICE, "c::Doc", [text("a")])["Ok"]["id"]
    svc.api.create(ALICE, "c::Doc", [text("b")])
    reply = svc.api.get_certified(ALICE, "c::Doc", entity_id)["Ok"]
    forged = dict(
        reply,
        entity=dict(
            reply["entity"], fields=[{"name": "title", "value": {"Text": "z"}}, reply["entity"]["fields"][1]]
        ),
    )
    with pytest.raises(CertificateError, match="differs from the certified"):
        verify(svc, "c::Doc", entity_id, forged)
    witness = bytearray(reply["witness"])
    witness[-1] ^= 1
    with pytest.raises(CertificateError, match="witness does not match"):
        verify(svc, "c::Doc", entity_id, dict(reply, witness=bytes(witness)))
    with pytest.raises(CertificateError, match="absent"):
        verify(svc, "c::Doc", entity_id, dict(reply, entity=None))


def test_certification_is_opt_in_and_only_on_empty_types(svc):
    svc.api.create(ALICE, "c::Plain", [text("x")])
    assert "Invalid" in svc.api.get_certified(ALICE, "c::Plain", 1)["Err"]
    result = svc.api.define_type(ADMIN, typedef("c::Plain", True), False)
    assert "Conflict" in result["Err"]
    svc.api.create(ALICE, "c::Doc", [text("x")])
    narrowed = typedef("c::Doc", True, alias="title")
    narrowed["fields"] = narrowed["fields"][:1]
    assert "Conflict" in svc.api.define_type(ADMIN, narrowed, True)["Err"]


def test_certified_types_must_be_public_read(svc):
    secret = typedef("c::Secret", True)
    secret["policy"]["read"] = {"Owner": None}
    assert "Invalid" in svc.api.define_type(ADMIN, secret, False)["Err"]
    hidden = typedef("c::Doc", True, alias="title")
    hidden["policy"]["read"] = {"Owner": None}
    assert "Invalid" in svc.api.define_type(ADMIN, hidden, False)["Err"]


def test_icrc3_value_hash_vectors():
    """The test vectors of the ICRC-3 standard (dfinity/ICRC-1, standards/ICRC-3/HASHINGVALUES.md,
    Apache-2.0) and the issue's map, hashed by the canister's and the client's implementations."""
    import rep_hash

    from ic_protocol.icrc3_value import value_hash

    blob = bytes.fromhex("00abcdef0012340056789a00bcdef000012345678900abcdef01")
    vectors = [
        ({"Nat": 42}, "684888c0ebb17f374298b65ee2807526c066094c701bcc7ebbe1c1095f494fc1"),
        ({"Int": -42}, "de5a6f78116eca62d7fc5ce159d23ae6b889b365a1739ad2cf36f925a140d0cc"),
        ({"Text": "Hello, World!"}, "dffd6021bb2bd5b0af676290809ec3a53191dd81c7f70a4b28688a362182986f"),
        ({"Blob": b"\x01\x02\x03\x04"}, "9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a"),
        (
            {"Array": [{"Nat": 3}, {"Text": "foo"}, {"Blob": b"\x05\x06"}]},
            "514a04011caa503990d446b7dec5d79e19c221ae607fb08b2848c67734d468d6",
        ),
        (
            {
                "Map": [
                    ("from", {"Blob": blob}),
                    ("to", {"Blob": blob[:2] + b"\x0d" + blob[3:]}),
                    ("amount", {"Nat": 42}),
                    ("created_at", {"Nat": 1699218263}),
                    ("memo", {"Nat": 0}),
                ]
            },
            "c56ece650e1de4269c5bdeff7875949e3e2033f85b2d193c2ff4f7f78bdcfc75",
        ),
        (
            {
                "Map": [
                    ("name", {"Text": "foo"}),
                    ("message", {"Text": "Hello World!"}),
                    ("answer", {"Nat": 42}),
                ]
            },
            "b0c6f9191e37dceafdfc47fbfc7e9cc95f21c7b985c2f7ba5855015c2a8f13ac",
        ),
    ]
    for value, expected in vectors:
        assert rep_hash.value_hash(value).hex() == expected
        assert value_hash(value).hex() == expected


def test_the_audit_log_is_an_icrc3_chain_under_the_certified_tip(svc):
    for i in range(5):
        svc.api.create(ALICE, "c::Doc", [text("d" + str(i))])
    svc.api.delete(ALICE, "c::Doc", 2)
    result = svc.api.icrc3_get_blocks(ADMIN, [{"start": 0, "length": 100}])
    blocks = [(b["id"], b["block"]) for b in result["blocks"]]
    assert result["log_length"] == len(blocks) == 6 and result["archived_blocks"] == []
    tip = svc.api.icrc3_get_tip_certificate()
    last_index, last_hash = verify_tip(tip, CANISTER, KEYS.root_key_der)
    assert last_index == 5
    verify_chain(blocks, last_index, last_hash)
    verify_chain(blocks[3:], last_index, last_hash)
    with pytest.raises(db_api.ApiError if hasattr(db_api, "ApiError") else Exception):
        svc.api.icrc3_get_blocks(ALICE, [{"start": 0, "length": 1}])


# --- the incremental tree equals one built from scratch, after any sequence of changes ---


def _reference_type_digest(leaves: dict) -> bytes:
    """The digest of a type's tree computed from all its entity hashes, straight from the definition."""
    if not leaves:
        return ic_hash_tree.EMPTY_DIGEST
    height = 1
    while max(leaves) >= 16**height:
        height += 1

    def node(level: int, index: int):
        slots = []
        for i in range(16):
            child = index * 16 + i
            if level == 1:
                leaf = leaves.get(child)
                slots.append(None if leaf is None else [2, child.to_bytes(8, "big"), [3, leaf]])
            else:
                below = node(level - 1, child)
                slots.append(below)
        while len(slots) > 1:
            pairs = zip(slots[::2], slots[1::2])
            slots = [b if a is None else a if b is None else [1, a, b] for a, b in pairs]
        return slots[0]

    top = node(height, 0)
    return ic_hash_tree.EMPTY_DIGEST if top is None else ic_hash_tree.digest(top)


def _check_against_scratch(svc, max_id: int) -> None:
    gateway = svc.api.gateway
    leaves = {}
    for entity_id in range(max_id + 1):
        record = gateway.load("c::Tree", entity_id)
        if record is not None:
            leaves[entity_id] = entity_hash("c::Tree", record)
    merkle = svc.api.certifier.merkle
    entity_merkle._DIGESTS.clear()  # the root set by the updates (from cached digests) == one from scratch
    entity_merkle._PARSED.clear()
    merkle.reset()
    assert merkle._root_digest_of("c::Tree") == _reference_type_digest(leaves)
    assert svc.api.certifier.root_digest() == svc.certified_data
    for entity_id in range(max_id + 2):
        entity = verify(svc, "c::Tree", entity_id)
        assert (entity is None) == (entity_id not in leaves)


def tree_type() -> dict:
    t = typedef("c::Tree", True)
    t["relations"] = [
        {
            "name": "parent",
            "kind": {"ManyToOne": None},
            "target": "c::Tree",
            "reverse": "children",
            "on_delete": {"Cascade": None},
        }
    ]
    return t


OPS = st.lists(
    st.tuples(
        st.sampled_from(["create", "create", "update", "delete", "link", "unlink"]),
        st.integers(1, 40),
        st.integers(1, 40),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_the_incremental_tree_matches_a_rebuild(ops):
    svc = Service()
    assert svc.api.define_type(ADMIN, tree_type(), False) == {"Ok": None}
    top = 0
    for op, a, b in ops:
        if op == "create":
            top = svc.api.create(ALICE, "c::Tree", [text("t" + str(a))])["Ok"]["id"]
        elif op == "update":
            svc.api.update(ALICE, "c::Tree", a, [text("u" + str(b))], None)
        elif op == "delete":
            svc.api.delete(ALICE, "c::Tree", a)
        else:
            getattr(svc.api, op)(ALICE, "c::Tree", a, "parent", b)
    _check_against_scratch(svc, top)


def test_ids_past_one_level_grow_the_tree_and_keep_proofs(svc):
    svc.api.define_type(ADMIN, tree_type(), False)
    for i in range(300):
        svc.api.create(ALICE, "c::Tree", [text("n" + str(i))])
    for entity_id in (1, 250, 300):
        svc.api.delete(ALICE, "c::Tree", entity_id)
    _check_against_scratch(svc, 300)


def test_pruned_audit_entries_leave_a_chain_verifiable_from_the_first_kept_block(svc):
    for i in range(6):
        svc.api.create(ALICE, "c::Doc", [text("p" + str(i))])
    svc.api.gateway.db.prune_audit(4)
    result = svc.api.icrc3_get_blocks(ADMIN, [{"start": 0, "length": 100}])
    blocks = [(b["id"], b["block"]) for b in result["blocks"]]
    assert [i for i, _ in blocks] == [4, 5] and result["log_length"] == 6
    verify_chain(blocks, *verify_tip(svc.api.icrc3_get_tip_certificate(), CANISTER, KEYS.root_key_der))


def test_block_requests_are_capped_and_odd_ranges_answer_empty(svc):
    for i in range(3):
        svc.api.create(ALICE, "c::Doc", [text("q" + str(i))])
    huge = 2**100
    ranges = [{"start": huge, "length": huge}, {"start": 1, "length": 0}, {"start": 0, "length": huge}]
    result = svc.api.icrc3_get_blocks(ADMIN, ranges)
    assert [b["id"] for b in result["blocks"]] == [0, 1, 2]
    many = [{"start": 0, "length": 3}] * 50
    assert len(svc.api.icrc3_get_blocks(ADMIN, many)["blocks"]) == 100


def test_certified_reads_refuse_clearly(svc):
    assert "NotFound" in svc.api.get_certified(ALICE, "c::Nope", 1)["Err"]
    assert "Invalid" in svc.api.get_certified(ALICE, "c::Plain", 1)["Err"]
    assert "Invalid" in svc.api.find_certified(ALICE, "c::Plain", "x")["Err"]
    assert "NotFound" in svc.api.find_certified(ALICE, "c::Doc", "missing")["Err"]
    without = db_api.DbApi(svc.maps, clock=time.time_ns, principal=Principal.from_str)
    assert "query" in svc_err(without.get_certified(ALICE, "c::Doc", 1))


def svc_err(result: dict) -> str:
    ((_, message),) = result["Err"].items()
    return message


def test_certified_refs_point_only_at_public_types(svc):
    private = typedef("c::Private", False)
    private["policy"]["read"] = {"Owner": None}
    assert svc.api.define_type(ADMIN, private, False) == {"Ok": None}
    linked = typedef("c::Linked", True)
    linked["relations"] = [
        {
            "name": "secret",
            "kind": {"ManyToOne": None},
            "target": "c::Private",
            "reverse": "linked",
            "on_delete": {"SetNull": None},
        }
    ]
    assert "Invalid" in svc.api.define_type(ADMIN, linked, False)["Err"]
    reverse = typedef("c::Private2", False)
    reverse["policy"]["read"] = {"Owner": None}
    reverse["relations"] = [
        {
            "name": "docs",
            "kind": {"OneToMany": None},
            "target": "c::Doc",
            "reverse": "holder",
            "on_delete": {"SetNull": None},
        }
    ]
    assert "Invalid" in svc.api.define_type(ADMIN, reverse, False)["Err"]
    holder = typedef("c::Holder", False)
    holder["relations"] = [
        {
            "name": "docs",
            "kind": {"OneToMany": None},
            "target": "c::Doc",
            "reverse": "holder",
            "on_delete": {"SetNull": None},
        }
    ]
    assert svc.api.define_type(ADMIN, holder, False) == {"Ok": None}
    holder["policy"]["read"] = {"Owner": None}
    assert "Invalid" in svc.api.define_type(ADMIN, holder, False)["Err"]
    assert svc.api.schema_defs()  # the refused changes left the schema readable


def test_a_certified_page_is_proven_complete(svc):
    for i in range(60):
        svc.api.create(ALICE, "c::Doc", [text("l" + str(i))])
    for entity_id in (5, 6, 7, 30):
        svc.api.delete(ALICE, "c::Doc", entity_id)
    seen, cursor = [], None
    while True:
        page = svc.api.list_certified(ALICE, "c::Doc", cursor, 17)["Ok"]
        items = verify_page(page, "c::Doc", cursor, CANISTER, KEYS.root_key_der)
        seen += [e["id"] for e in items]
        if page["next"] is None:
            break
        cursor = page["next"]
    assert seen == [i for i in range(1, 61) if i not in (5, 6, 7, 30)]
    page = svc.api.list_certified(ALICE, "c::Doc", 3, 10)["Ok"]
    dropped = dict(page, items=page["items"][:1] + page["items"][2:])
    with pytest.raises(CertificateError, match="complete"):
        verify_page(dropped, "c::Doc", 3, CANISTER, KEYS.root_key_der)
    short = dict(page, items=page["items"][:-1], next=None)
    with pytest.raises(CertificateError, match="complete"):
        verify_page(short, "c::Doc", 3, CANISTER, KEYS.root_key_der)
    with pytest.raises(CertificateError, match="complete|cursor"):
        verify_page(page, "c::Doc", 1, CANISTER, KEYS.root_key_der)
    assert "Invalid" in svc.api.list_certified(ALICE, "c::Plain", None, 10)["Err"]
    empty = Service()
    empty.api.define_type(ADMIN, typedef("c::Doc", True), False)
    page = empty.api.list_certified(ALICE, "c::Doc", None, 10)["Ok"]
    assert verify_page(page, "c::Doc", None, CANISTER, KEYS.root_key_der) == []


def test_upserts_are_certified_like_creates_and_updates(svc):
    created = svc.api.upsert(ALICE, "c::Doc", {"Text": "u-1"}, [{"name": "n", "value": {"Int": 1}}])
    assert "Ok" in created, created
    entity_id = verify(svc, "c::Doc", 1)["id"]
    svc.api.upsert(ALICE, "c::Doc", {"Text": "u-1"}, [{"name": "n", "value": {"Int": 2}}])
    fields = {f["name"]: f["value"] for f in verify(svc, "c::Doc", entity_id)["fields"]}
    assert fields["n"] == {"Int": 2}


def test_a_delete_carried_across_messages_keeps_the_certified_tree_exact():
    svc = Service()
    assert svc.api.define_type(ADMIN, tree_type(), False) == {"Ok": None}
    svc.api.gateway.db.delete_budget = 3
    ids = [svc.api.create(ALICE, "c::Tree", [text("root")])["Ok"]["id"]]
    for i in range(20):
        ids.append(svc.api.create(ALICE, "c::Tree", [text("n" + str(i))])["Ok"]["id"])
        assert svc.api.link(ALICE, "c::Tree", ids[-1], "parent", ids[-2]) == {"Ok": None}
    assert svc.api.delete(ALICE, "c::Tree", ids[0]) == {"Ok": None}
    _check_against_scratch(svc, ids[-1])        # between steps: proofs hold for what is left
    while not svc.api.delete_continue(ALICE, "c::Tree", ids[0])["Ok"]["done"]:
        _check_against_scratch(svc, ids[-1])
    _check_against_scratch(svc, ids[-1])
    assert all(verify(svc, "c::Tree", i) is None for i in ids)

def _chain_verifies(svc) -> None:
    result = svc.api.icrc3_get_blocks(ADMIN, [{"start": 0, "length": 100}])
    blocks = [(b["id"], b["block"]) for b in result["blocks"]]
    verify_chain(blocks, *verify_tip(svc.api.icrc3_get_tip_certificate(), CANISTER, KEYS.root_key_der))


@pytest.mark.parametrize(
    "title",
    [
        "plain",
        "é ünïcode ✓ 𝄞",
        "tab\tnew\nline\x00nul \"quote\" back\\slash",
        "x" * 300,            # an entry near the audit map's 1,024-byte values
        "é" * 600,            # more than 1,024 bytes: the audit keeps the field names only
        "\u2028" * 170 + "x" * 30,
        "",
    ],
)
def test_blocks_chained_from_the_entries_as_recorded_match_the_stored_entries(svc, title):
    """Certification hashes each audit entry as the engine recorded it (audit_capture) instead of reading
    it back; the chain must verify against the blocks built from the stored entries, whatever the text."""
    created = svc.api.create(ALICE, "c::Plain", [text(title), {"name": "n", "value": {"Int": -(2**62)}}])
    entity_id = created["Ok"]["id"]
    assert "Ok" in svc.api.update(ALICE, "c::Plain", entity_id, [text(title + "!")], None)
    cleared = [{"name": "n", "value": {"Null": None}}]
    assert "Ok" in svc.api.update(ALICE, "c::Plain", entity_id, cleared, None)
    assert "Ok" in svc.api.create(ALICE, "c::Doc", [text(title[:200])])
    _chain_verifies(svc)


def test_entries_of_a_refused_batch_are_not_chained(svc):
    """A batch that fails part-way rolls back: no block may be chained from the entries it recorded."""
    def good(title):
        return {"Create": {"type_name": "c::Doc", "fields": [text(title)]}}

    bad = {"Update": {"type_name": "c::Doc", "id": 999, "fields": [text("x")], "expected_version": None}}
    before = svc.api.icrc3_get_blocks(ADMIN, [{"start": 0, "length": 100}])["log_length"]
    assert "Err" in svc.api.batch(ALICE, [good("a"), good("b"), bad])
    assert svc.api.icrc3_get_blocks(ADMIN, [{"start": 0, "length": 100}])["log_length"] == before
    assert "Ok" in svc.api.batch(ALICE, [good("c"), good("d")])
    assert "Ok" in svc.api.transfer(ALICE, "c::Doc", 1, Principal.from_str(ADMIN))
    assert "Ok" in svc.api.delete(ADMIN, "c::Doc", 1)
    _chain_verifies(svc)


def test_common_updates_are_chained_without_reading_their_entries_back(svc, monkeypatch):
    """The benchmark's figures rest on this: creates, updates, links and deletes are chained from the
    copies audit_capture keeps (a change to how the engine appends entries must keep them coming)."""
    gateway = svc.api.gateway
    reads = []
    monkeypatch.setattr(gateway, "audit_since", lambda start: reads.append(start) or [])
    created = svc.api.create(ALICE, "c::Doc", [text("kept")])["Ok"]
    svc.api.update(ALICE, "c::Doc", created["id"], [{"name": "n", "value": {"Int": 5}}], None)
    svc.api.delete(ALICE, "c::Doc", created["id"])
    assert reads == []
    monkeypatch.undo()
    _chain_verifies(svc)


def test_an_upgrade_finds_the_chain_tip_and_keeps_the_root(svc):
    """The chain's state and the tree's records live in the heap once read or written; a fresh heap (an
    upgrade) finds them in storage again: the same root, and later blocks chain onto the same tip."""
    created = svc.api.create(ALICE, "c::Doc", [text("a")])["Ok"]
    for i in range(5):
        assert "Ok" in svc.api.update(ALICE, "c::Doc", created["id"], [text("v" + str(i))], None)
        assert "Ok" in svc.api.create(ALICE, "c::Plain", [text("p" + str(i))])
    before = svc.certified_data
    tip = svc.api.icrc3_get_tip_certificate()
    svc.api.after_upgrade()
    assert svc.certified_data == before
    assert svc.api.icrc3_get_tip_certificate()["hash_tree"] == tip["hash_tree"]
    assert "Ok" in svc.api.update(ALICE, "c::Doc", created["id"], [text("after")], None)
    assert "Ok" in svc.api.delete(ALICE, "c::Plain", 2)
    _chain_verifies(svc)
    verify(svc, "c::Doc", created["id"])
