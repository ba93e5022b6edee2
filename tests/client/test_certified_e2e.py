"""Certified reads and the ICRC-3 audit chain end to end on localnet: the Python client verifies by
default and refuses every tampered part; the JS agent verifies a certified get on its own; an upgrade
keeps the proofs; `simpledb get --verify` and `simpledb audit --verify FROM TO`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import cbor2
import pytest
from click.testing import CliRunner
from simple_db_client import Ed25519Identity
from simple_db_client.cli import cli
from simple_db_client.errors import CertificateError
from simple_db_client.models import FieldDef, Policy, TypeDef
from simple_db_client.values import Timestamp

REPO = Path(__file__).resolve().parents[2]
MODULES = Path(os.environ.get("JS_AGENT_NODE_MODULES") or REPO / ".tools" / "node_modules")
SCRIPT = Path(__file__).parent / "certified_get.mjs"
ICRC3_SCRIPT = Path(__file__).parent / "icrc3_chain.mjs"
NEEDS_JS = pytest.mark.skipif(
    shutil.which("node") is None or not (MODULES / "@icp-sdk" / "core").is_dir(),
    reason="needs node and @icp-sdk/core under .tools/node_modules",
)


def receipt_type(name: str) -> TypeDef:
    return TypeDef(
        name,
        [
            FieldDef("ref", "Text", required=True, max=32),
            FieldDef("amount", "Int"),
            FieldDef("rate", "Float"),
            FieldDef("paid", "Bool"),
            FieldDef("payer", "Principal"),
            FieldDef("due", "Timestamp"),
        ],
        alias="ref",
        policy=Policy(certified=True),
    )


@pytest.fixture(scope="module")
def receipts(net, admin_db):
    """A certified type with a few receipts created by a user; (type name, user client, ids)."""
    name = f"cert{os.getpid()}::Receipt"
    admin_db.define_type(receipt_type(name))
    user = net.client(Ed25519Identity())
    ids = []
    for i in range(5):
        entity = user.create(
            name,
            ref=f"R-{i}",
            amount=100 * i,
            rate=1.5 + i,
            paid=i % 2 == 0,
            payer=admin_db.principal,
            due=Timestamp.from_ns(1_700_000_000_000_000_000 + i),
        )
        ids.append(entity.id)
    user.delete(name, ids[2])
    return name, user, ids


class Tamper:
    """Wraps a client's `call` so one method's decoded reply goes through `change` first."""

    def __init__(self, db, method: str, change):
        self.db, self.method, self.change, self.original = db, method, change, db.call

    def __enter__(self):
        def call(method, *args):
            reply = self.original(method, *args)
            return self.change(reply) if method == self.method else reply

        self.db.call = call
        return self.db

    def __exit__(self, *exc):
        self.db.call = self.original


def _ok(change):
    return lambda reply: {"Ok": change(dict(reply["Ok"]))}


def test_certified_get_and_find_verify_by_default(receipts):
    name, user, ids = receipts
    entity = user.get_certified(name, ids[1])
    assert entity.fields["ref"] == "R-1" and entity.fields["amount"] == 100 and entity.fields["paid"] is False
    assert user.get_certified(name, ids[2]) is None
    assert user.get_certified(name, ids[-1] + 1000) is None
    assert user.find_certified(name, "R-3").id == ids[3]
    page = user.list_certified_page(name, None, 3)
    assert [e.id for e in page.items] == [ids[0], ids[1], ids[3]] and page.next == ids[3]
    rest = user.list_certified_page(name, page.next, 3)
    assert [e.id for e in rest.items] == [ids[4]] and rest.next is None


def test_every_tampered_part_is_refused(net, admin_db, receipts):
    name, user, ids = receipts

    def field(reply):
        entity = dict(reply["entity"][0])
        fields = entity["fields"]
        entity["fields"] = [dict(f, value={"Int": 999}) if f["name"] == "amount" else f for f in fields]
        return dict(reply, entity=[entity])

    def witness(reply):
        tree = cbor2.loads(bytes(reply["witness"]))
        node = tree
        while node[0] == 1:
            node = node[2] if node[2][0] == 4 else node[1]
        if node[0] == 4:
            node[1] = bytes(32)
        return dict(reply, witness=cbor2.dumps(tree))

    def signature(reply):
        cert = cbor2.loads(bytes(reply["certificate"]))
        cert["signature"] = bytes([cert["signature"][0] ^ 1]) + cert["signature"][1:]
        return dict(reply, certificate=cbor2.dumps(cert))

    def removed(reply):
        return dict(reply, entity=[])

    for change, message in [
        (field, "differs from the certified"),
        (witness, "witness does not match"),
        (signature, "signature|malformed"),
        (removed, "absent"),
    ]:
        with Tamper(user, "get_certified", _ok(change)), pytest.raises(CertificateError, match=message):
            user.get_certified(name, ids[1])
    with pytest.raises(CertificateError, match="old|time"):
        user.get_certified(name, ids[1], max_age_s=-1)

    stale = user.call("get_certified", name, ids[3])["Ok"]["certificate"]
    user.update(name, ids[3], amount=7)
    with Tamper(user, "get_certified", _ok(lambda r: dict(r, certificate=stale))):
        with pytest.raises(CertificateError, match="witness does not match"):
            user.get_certified(name, ids[3])

    other_id = net.fresh_canister()
    other = net.client(net.admin, canister_id=other_id)
    other.define_type(receipt_type(name))
    other.create(name, ref="R-0", amount=0)
    foreign = other.call("get_certified", name, 1)["Ok"]
    with Tamper(
        user,
        "get_certified",
        _ok(lambda r: dict(r, certificate=foreign["certificate"], witness=foreign["witness"])),
    ):
        with pytest.raises(CertificateError, match="no certified data for this canister|does not match"):
            user.get_certified(name, ids[0])


def test_the_audit_chain_verifies_and_tampered_blocks_are_refused(net, admin_db, receipts):
    name, _, _ = receipts
    entries = admin_db.audit_verified(0)
    assert entries and entries[-1].seq == len(entries) - 1
    assert any(e.type_name == name and e.operation == "delete" for e in entries)

    def replacing(position: int, key: str, value: dict):
        def change(result):
            blocks = [dict(b) for b in result["blocks"]]
            block = blocks[position]["block"]["Map"]
            items = [tuple(i.values()) if isinstance(i, dict) else i for i in block]
            blocks[position]["block"] = {"Map": [(k, value if k == key else v) for k, v in items]}
            return dict(result, blocks=blocks)

        return change

    content = replacing(0, "ts", {"Nat": 1})
    phash = replacing(-1, "phash", {"Blob": bytes(32)})

    for change in (content, phash):
        with Tamper(admin_db, "icrc3_get_blocks", change), pytest.raises(CertificateError):
            admin_db.audit_verified(0)
    assert admin_db.call("icrc3_supported_block_types")[0]["block_type"] == "simpledb_audit"
    assert admin_db.call("icrc3_get_archives", {"from_": []}) == []


def test_an_upgrade_keeps_the_proofs(net, receipts):
    name, user, ids = receipts
    net.localnet.deploy("simple_db", REPO / "canister" / "src" / "main.py")
    assert user.get_certified(name, ids[1]).fields["ref"] == "R-1"
    assert user.get_certified(name, ids[2]) is None


def test_cli_verify(net, receipts):
    name, _, ids = receipts
    env = {
        "SIMPLEDB_URL": net.url,
        "SIMPLEDB_CANISTER_ID": net.canister_id,
        "SIMPLEDB_IDENTITY": str(net.admin_pem),
        "SIMPLEDB_LOCAL": "1",
    }
    result = CliRunner().invoke(cli, ["get", name, str(ids[1]), "--verify"], env=env)
    assert result.exit_code == 0 and "verified" in result.output and "R-1" in result.output, result.output
    result = CliRunner().invoke(cli, ["get", name, str(ids[2]), "--verify"], env=env)
    assert result.exit_code == 3 and "absence verified" in result.output
    result = CliRunner().invoke(cli, ["list", name, "--verify", "--page-size", "2"], env=env)
    assert result.exit_code == 0 and "verified: 4 entities" in result.output, result.output
    result = CliRunner().invoke(cli, ["audit", "--verify", "0", "3"], env=env)
    assert result.exit_code == 0 and "verified: 3 entries" in result.output, result.output


@NEEDS_JS
def test_the_js_agent_verifies_a_certified_get_on_its_own(net, receipts, tmp_path):
    name, _, ids = receipts
    script = tmp_path / SCRIPT.name
    script.write_text(SCRIPT.read_text())
    (tmp_path / "node_modules").symlink_to(MODULES)
    wanted = ",".join(str(i) for i in (ids[0], ids[1], ids[2], ids[-1] + 50))

    def run(*extra):
        result = subprocess.run(
            ["node", str(script), net.url, net.canister_id, name, wanted, *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return [line.split(" ", 2) for line in result.stdout.splitlines()]

    lines = run()
    assert [line[1] for line in lines] == ["verified", "verified", "absent-proven", "absent-proven"], lines
    assert [line[1] for line in run("tamper")][:2] == ["refused", "refused"]


def test_async_client_verifies_too(net, receipts):
    import asyncio

    from simple_db_client import AsyncSimpleDB

    name, _, ids = receipts

    async def main():
        async with AsyncSimpleDB(net.url, net.canister_id, net.admin, fetch_root_key=True) as db:
            entity = await db.get_certified(name, ids[1])
            assert entity.fields["ref"] == "R-1"
            assert await db.get_certified(name, ids[2]) is None
            assert (await db.audit_verified(0))[-1].seq >= 0
            listed = [e.id async for e in db.list_certified(name, page_size=2)]
            assert listed == [ids[0], ids[1], ids[3], ids[4]]

    asyncio.run(main())


def test_an_exported_database_imports_with_its_certified_types(net, admin_db, receipts, tmp_path):
    name, _, ids = receipts
    admin_db.export_to(tmp_path / "all.jsonl")
    copy = net.client(net.admin, canister_id=net.fresh_canister())
    copy.import_from(tmp_path / "all.jsonl")
    assert copy.type(name).policy.certified
    assert copy.get_certified(name, ids[1]).fields["ref"] == "R-1"
    assert copy.get_certified(name, ids[2]) is None


@NEEDS_JS
def test_the_js_agent_reads_and_verifies_the_icrc3_log_with_the_standard_types(net, receipts, tmp_path):
    from cryptography.hazmat.primitives import serialization

    script = tmp_path / ICRC3_SCRIPT.name
    script.write_text(ICRC3_SCRIPT.read_text())
    (tmp_path / "node_modules").symlink_to(MODULES)
    key = serialization.load_pem_private_key(net.admin_pem.read_bytes(), password=None)
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    ).hex()

    def run(*extra):
        result = subprocess.run(
            ["node", str(script), net.url, net.canister_id, seed, *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    line = run()
    assert line[0] == "chain-verified" and int(line[1]) > 5, line
    assert line[3] == "0" and line[4] == "simpledb_audit", line  # no archives; the block type
    assert run("tamper")[0] == "refused"
