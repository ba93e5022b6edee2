"""The management canister `aaaaa-aa`: canister lifecycle through install_code with modules built by
localnet.wasm_bundle, the IC's controller checks and error codes, and calls from canisters."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
from kybra import Principal

from localnet import candid_codec as codec
from localnet import management_types as mt
from localnet import wasm_bundle
from localnet.candid_types import BLOB, Prim
from localnet.management import CYCLES_LEDGER_ID, CYCLES_MINTING_ID
from localnet.outcome import Reject, Reply
from localnet.replica import Replica

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
STORE = SAMPLE / "store" / "main.py"
ALICE = Principal.from_str("tasxg-7ryw7-s5kzi-2v6cw-sst2p-rwv3m-jhll4-gu3pz-hi3lr-jfc45-yqe").bytes
BOB = b"\x05" * 29
IFACE = mt.SYSTEM_IFACE
TEXT = Prim("text")
CALLER_SOURCE = """
from kybra import Async, CallResult, Principal, blob, ic, update

MANAGEMENT = "aaaaa-aa"


@update
def rand() -> Async[blob]:
    management = Principal.from_str(MANAGEMENT)
    result: CallResult[blob] = yield ic.call_raw(management, "raw_rand", b"DIDL\\x00\\x00", 0)
    return result.Ok


@update
def create() -> Async[blob]:
    result: CallResult[blob] = yield ic.call_raw(
        Principal.from_str(MANAGEMENT), "create_canister", b"DIDL\\x01\\x6c\\x00\\x01\\x00", 0
    )
    return result.Ok if result.Err is None else result.Err.encode()
"""


def call(r: Replica, method: str, value, sender: bytes = ALICE):
    params, results = mt.MANAGEMENT[method]
    arg = codec.encode(params, [value] if params else [], IFACE)
    outcome = r.update(b"", method, arg, sender)
    if isinstance(outcome, Reject):
        return outcome
    values = codec.decode(outcome.arg, results, IFACE)
    return values[0] if values else None


def store_arg(greeting: str = "hi") -> bytes:
    return codec.encode((TEXT,), [greeting], IFACE)


def create(r: Replica, sender: bytes = ALICE, controllers=None) -> Principal:
    settings = None if controllers is None else {"controllers": controllers}
    args = {"amount": None, "settings": settings, "specified_id": None, "sender_canister_version": None}
    return call(r, "provisional_create_canister_with_cycles", args, sender)["canister_id"]


def install(r: Replica, cid: Principal, mode: str, module: bytes, arg: bytes, sender: bytes = ALICE):
    value = {"mode": {mode: None}, "canister_id": cid, "wasm_module": module, "arg": arg}
    value["sender_canister_version"] = None
    return call(r, "install_code", value, sender)


@pytest.fixture(scope="module")
def module() -> bytes:
    return wasm_bundle.build(STORE)


def test_create_install_call_status(module):
    with Replica() as r:
        cid = create(r)
        empty = r.update(cid.bytes, "put", codec.encode((TEXT, TEXT), ["k", "v"], IFACE), ALICE)
        assert isinstance(empty, Reject) and empty.error_code == "IC0537"
        status = call(r, "canister_status", {"canister_id": cid})
        assert status["module_hash"] is None and status["status"] == {"running": None}
        assert install(r, cid, "install", module, store_arg()) is None
        assert isinstance(
            r.update(cid.bytes, "put", codec.encode((TEXT, TEXT), ["k", "v"], IFACE), ALICE), Reply
        )
        status = call(r, "canister_status", {"canister_id": cid})
        assert status["module_hash"] == hashlib.sha256(module).digest()
        assert [c.to_str() for c in status["settings"]["controllers"]] == [Principal(bytes=ALICE).to_str()]
        assert r.module_hash(cid.bytes) == hashlib.sha256(module).digest()
        assert "put : (text, text) -> (opt text);" in r.metadata(cid.bytes, "candid:service").decode()


def test_install_modes_and_their_errors(module):
    with Replica() as r:
        cid = create(r)
        upgrade = install(r, cid, "upgrade", module, store_arg())
        assert isinstance(upgrade, Reject) and upgrade.error_code == "IC0537"
        install(r, cid, "install", gzip.compress(module), store_arg())  # gzipped modules are accepted
        again = install(r, cid, "install", module, store_arg())
        assert isinstance(again, Reject) and again.error_code == "IC0538" and "reinstall" in again.message
        put = codec.encode((TEXT, TEXT), ["k", "v"], IFACE)
        r.update(cid.bytes, "put", put, ALICE)
        get = codec.encode((TEXT,), ["k"], IFACE)
        install(r, cid, "upgrade", module, store_arg("upgraded"))
        assert codec.decode(r.query(cid.bytes, "get", get, ALICE).arg, (mt.Opt(TEXT),), IFACE) == ["v"]
        install(r, cid, "reinstall", module, store_arg())
        assert codec.decode(r.query(cid.bytes, "get", get, ALICE).arg, (mt.Opt(TEXT),), IFACE) == [None]
        for bad in (b"not wasm", b"\x00asm\x01\x00\x00\x00", gzip.compress(b"junk")):
            refused = install(r, cid, "upgrade", bad, store_arg())
            assert isinstance(refused, Reject) and refused.error_code == "IC0505"
        code = r.state_dir / "code" / cid.to_str()
        assert [d.name for d in code.iterdir()] == [hashlib.sha256(module).hexdigest()]  # one version kept
        trapping = install(r, cid, "reinstall", module, b"DIDL\x00\x01\x7d\x05")  # init wants text
        assert isinstance(trapping, Reject) and trapping.code == 5
        assert codec.decode(r.query(cid.bytes, "get", get, ALICE).arg, (mt.Opt(TEXT),), IFACE) == [None]


def test_only_controllers_manage_a_canister(module):
    with Replica() as r:
        cid = create(r)
        for method, value in (
            ("canister_status", {"canister_id": cid}),
            ("stop_canister", {"canister_id": cid}),
            ("delete_canister", {"canister_id": cid}),
        ):
            refused = call(r, method, value, sender=BOB)
            assert isinstance(refused, Reject) and refused.error_code == "IC0512"
            assert "Only the controllers of the canister" in refused.message
        refused = install(r, cid, "install", module, store_arg(), sender=BOB)
        assert isinstance(refused, Reject) and refused.error_code == "IC0512"
        settings = {name: None for name, _ in mt.CANISTER_SETTINGS.fields}
        settings["controllers"] = [Principal(bytes=BOB)]
        call(
            r, "update_settings", {"canister_id": cid, "settings": settings, "sender_canister_version": None}
        )
        assert isinstance(call(r, "canister_status", {"canister_id": cid}), Reject)
        assert (
            call(r, "canister_status", {"canister_id": cid}, sender=BOB)["settings"]["controllers"][0].bytes
            == BOB
        )
        assert r.controllers(cid.bytes) == [BOB]


def test_stop_start_delete(module, tmp_path):
    with Replica(tmp_path) as r:
        cid = create(r)
        install(r, cid, "install", module, store_arg())
        call(r, "stop_canister", {"canister_id": cid})
        stopped = r.query(cid.bytes, "get", codec.encode((TEXT,), ["k"], IFACE), ALICE)
        assert isinstance(stopped, Reject) and stopped.error_code == "IC0508"
    with Replica(tmp_path) as r:  # the status survives a restart
        assert call(r, "canister_status", {"canister_id": cid})["status"] == {"stopped": None}
        call(r, "start_canister", {"canister_id": cid})
        assert isinstance(r.query(cid.bytes, "get", codec.encode((TEXT,), ["k"], IFACE), ALICE), Reply)
        running = call(r, "delete_canister", {"canister_id": cid})
        assert isinstance(running, Reject) and running.error_code == "IC0510"
        call(r, "stop_canister", {"canister_id": cid})
        assert call(r, "delete_canister", {"canister_id": cid}) is None
        assert not (r.state_dir / "code" / cid.to_str()).exists() or not any(
            (r.state_dir / "code" / cid.to_str()).iterdir()
        )
        gone = call(r, "canister_status", {"canister_id": cid})
        assert isinstance(gone, Reject) and gone.error_code == "IC0301"
        assert cid.bytes not in r.canisters().values()
        assert create(r).to_str() != cid.to_str()  # ids are never reused


def test_chunked_install(module):
    with Replica() as r:
        cid = create(r)
        half = len(module) // 2
        hashes = [
            call(r, "upload_chunk", {"canister_id": cid, "chunk": part})
            for part in (module[:half], module[half:])
        ]
        assert call(r, "stored_chunks", {"canister_id": cid}) == hashes
        value = {
            "mode": {"install": None},
            "target_canister": cid,
            "store_canister": None,
            "chunk_hashes_list": hashes,
            "wasm_module_hash": b"\x00" * 32,
            "arg": store_arg(),
            "sender_canister_version": None,
        }
        wrong = call(r, "install_chunked_code", value)
        assert isinstance(wrong, Reject) and "hash" in wrong.message
        value["wasm_module_hash"] = hashlib.sha256(module).digest()
        assert call(r, "install_chunked_code", value) is None
        call(r, "clear_chunk_store", {"canister_id": cid})
        assert call(r, "stored_chunks", {"canister_id": cid}) == []


def test_users_create_with_provisional_create_canisters_with_create_canister_and_raw_rand(tmp_path):
    entry = tmp_path / "main.py"
    entry.write_text(CALLER_SOURCE)
    with Replica() as r:
        refused = call(r, "create_canister", {"settings": None, "sender_canister_version": None})
        assert refused == Reject(4, "Only canisters can call ic00 method create_canister", "IC0406")
        caller = r.deploy("caller", entry)
        reply = r.update(caller, "create", b"DIDL\x00\x00", ALICE)
        (raw,) = codec.decode(reply.arg, (BLOB,), IFACE)
        (created,) = codec.decode(raw, (mt.CANISTER_ID_RECORD,), IFACE)
        assert r.controllers(created["canister_id"].bytes) == [caller]  # the calling canister controls it
        rand = codec.decode(r.update(caller, "rand", b"DIDL\x00\x00", ALICE).arg, (BLOB,), IFACE)[0]
        assert len(codec.decode(rand, (BLOB,), IFACE)[0]) == 32
        again = codec.decode(r.update(caller, "rand", b"DIDL\x00\x00", ALICE).arg, (BLOB,), IFACE)[0]
        assert again != rand
        users = Reject(4, "Only canisters can call ic00 method raw_rand", "IC0406")
        assert call(r, "raw_rand", None) == users


def test_the_cycles_ledger_and_cmc_parts_icp_uses():
    with Replica() as r:
        r.subnet_id = b"\x01" * 29
        subnets = r.query(CYCLES_MINTING_ID, "get_default_subnets", b"DIDL\x00\x00", ALICE)
        assert (
            codec.decode(subnets.arg, mt.CYCLES_MINTING["get_default_subnets"][1], IFACE)[0][0].bytes
            == r.subnet_id
        )
        params, results = mt.CYCLES_LEDGER["create_canister"]
        arg = codec.encode(
            params,
            [{"from_subaccount": None, "created_at_time": None, "amount": 10**12, "creation_args": None}],
            IFACE,
        )
        (created,) = codec.decode(
            r.update(CYCLES_LEDGER_ID, "create_canister", arg, ALICE).arg, results, IFACE
        )
        assert r.controllers(created["Ok"]["canister_id"].bytes) == [ALICE]
        assert isinstance(r.update(b"", "no_such_method", b"DIDL\x00\x00", ALICE), Reject)
        malformed = r.update(b"", "canister_status", b"DIDL\x00\x01\x71\x00", ALICE)
        assert isinstance(malformed, Reject) and malformed.code == 4
