"""Attacks on the management canister by a non-controller (and by a controller of another canister):
every method that names a canister is refused with the IC's IC0512, and changes nothing."""

from __future__ import annotations

import hashlib

from kybra import Principal
from test_management import ALICE, BOB, call, create, install, module, store_arg  # noqa: F401

from localnet import candid_codec as codec
from localnet import management_types as mt
from localnet.candid_types import Prim
from localnet.outcome import Reject, Reply
from localnet.replica import Replica

TEXT = Prim("text")
ANONYMOUS = Principal.anonymous().bytes


def _status(r: Replica, cid: Principal) -> dict:
    """canister_status with principals as text (kybra's Principal has no equality)."""
    status = call(r, "canister_status", {"canister_id": cid})
    status["settings"]["controllers"] = [c.to_str() for c in status["settings"]["controllers"]]
    return status


def test_no_method_lets_a_non_controller_touch_a_canister(module):  # noqa: F811
    with Replica() as r:
        cid = create(r)
        install(r, cid, "install", module, store_arg("alice's"))
        own = create(r, sender=BOB)  # bob controls a canister of his own, and its chunk store
        half = len(module) // 2
        hashes = [
            call(r, "upload_chunk", {"canister_id": own, "chunk": part}, sender=BOB)
            for part in (module[:half], module[half:])
        ]
        settings = {name: None for name, _ in mt.CANISTER_SETTINGS.fields}
        before = _status(r, cid)
        attacks = [
            ("upload_chunk", {"canister_id": cid, "chunk": b"x"}),
            ("clear_chunk_store", {"canister_id": cid}),
            ("stored_chunks", {"canister_id": cid}),
            ("uninstall_code", {"canister_id": cid, "sender_canister_version": None}),
            ("start_canister", {"canister_id": cid}),
            ("stop_canister", {"canister_id": cid}),
            (
                "update_settings",
                {
                    "canister_id": cid,
                    "settings": dict(settings, controllers=[Principal(bytes=BOB)]),
                    "sender_canister_version": None,
                },
            ),
            ("update_settings", {"canister_id": cid, "settings": settings, "sender_canister_version": None}),
            (
                "install_chunked_code",
                {
                    "mode": {"upgrade": None},
                    "target_canister": cid,
                    "store_canister": own,
                    "chunk_hashes_list": hashes,
                    "wasm_module_hash": hashlib.sha256(module).digest(),
                    "arg": store_arg("bob's"),
                    "sender_canister_version": None,
                },
            ),
        ]
        for sender in (BOB, ANONYMOUS):
            for method, value in attacks:
                refused = call(r, method, value, sender=sender)
                assert isinstance(refused, Reject) and refused.error_code == "IC0512", (method, refused)
            for mode in ("install", "reinstall", "upgrade"):
                refused = install(r, cid, mode, module, store_arg("bob's"), sender=sender)
                assert isinstance(refused, Reject) and refused.error_code == "IC0512", mode
        assert _status(r, cid) == before
        # alice's canister still answers with alice's data
        get = codec.encode((TEXT,), ["greeting"], mt.SYSTEM_IFACE)
        assert isinstance(r.query(cid.bytes, "get", get, ALICE), Reply)
        # a controller cannot assemble a module from chunks in a store it does not control
        mine = create(r)
        value = {
            "mode": {"install": None},
            "target_canister": mine,
            "store_canister": own,
            "chunk_hashes_list": hashes,
            "wasm_module_hash": hashlib.sha256(module).digest(),
            "arg": store_arg(),
            "sender_canister_version": None,
        }
        refused = call(r, "install_chunked_code", value)
        assert isinstance(refused, Reject) and refused.error_code == "IC0512"
