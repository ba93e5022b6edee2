"""The system canisters localnet answers for: the management canister `aaaaa-aa` and, for `icp`'s
canister creation, the cycles ledger's `create_canister` and the cycles minting canister's
`get_default_subnets`. Calls come from users (ingress) and from canisters alike; each is decoded with
the system canister's Candid types and carried out through the replica's canister operations, with
the IC's controller checks and error codes. Cycles are not accounted: every caller can pay.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Protocol

from kybra import Principal

from ic_protocol.principal import from_text, to_text
from localnet import candid_codec
from localnet.management_types import CYCLES_LEDGER, CYCLES_MINTING, MANAGEMENT, QUERY_METHODS, SYSTEM_IFACE
from localnet.outcome import Outcome, Reject, Reply

MANAGEMENT_ID = b""
CYCLES_LEDGER_ID = from_text("um5iw-rqaaa-aaaaq-qaaba-cai")
CYCLES_MINTING_ID = from_text("rkp4c-7iaaa-aaaaa-aaaca-cai")
SYSTEM_METHODS = {
    MANAGEMENT_ID: MANAGEMENT,
    CYCLES_LEDGER_ID: CYCLES_LEDGER,
    CYCLES_MINTING_ID: CYCLES_MINTING,
}
# canister_status reports no cycles: localnet does not account them (and `icp canister delete` then has
# none to recover, which it would do by installing a compiled wasm module localnet cannot run).
STATUS_CYCLES = 0
MAX_CHUNK = 1024 * 1024
MAX_CHUNKS = 100  # 100 MiB of stored chunks per canister
MAX_CHUNK_BYTES = 512 * 1024 * 1024  # in all canisters' chunk stores together (they live in memory)


class ManagementError(Exception):
    """A management operation refused, with the IC's reject code and error code."""

    def __init__(self, code: int, message: str, error_code: str):
        super().__init__(message)
        self.reject = Reject(code, message, error_code)


class CanisterOps(Protocol):
    """What the management canister needs from the replica (implemented by `Replica`)."""

    subnet_id: bytes

    def create_empty(self, controllers: list[bytes]) -> bytes: ...
    def canister_info(self, canister_id: bytes) -> dict | None: ...
    def install_module(
        self, canister_id: bytes, mode: str, module: bytes, arg: bytes, caller: bytes
    ) -> None: ...
    def set_running(self, canister_id: bytes, running: bool) -> None: ...
    def set_controllers(self, canister_id: bytes, controllers: list[bytes]) -> None: ...
    def delete_canister(self, canister_id: bytes) -> None: ...
    def uninstall(self, canister_id: bytes) -> None: ...
    def is_canister(self, principal: bytes) -> bool: ...


def is_system(canister_id: bytes) -> bool:
    return canister_id in SYSTEM_METHODS


def method_kind(canister_id: bytes, method: str) -> str | None:
    methods = SYSTEM_METHODS.get(canister_id)
    if methods is None or method not in methods:
        return None
    return "query" if method in QUERY_METHODS else "update"


def _bytes(p: Any) -> bytes:
    return candid_codec.principal_bytes(p)


class SystemCanisters:
    """Executes calls to the system canisters against a replica's canister operations."""

    def __init__(self, ops: CanisterOps):
        self.ops = ops
        self.chunks: dict[bytes, dict[bytes, bytes]] = {}
        self.settings: dict[bytes, dict[str, Any]] = {}

    def call(self, canister_id: bytes, method: str, arg: bytes, caller: bytes) -> Outcome:
        """Run `method` of system canister `canister_id` for `caller` (a user or a canister)."""
        methods = SYSTEM_METHODS[canister_id]
        if method not in methods:
            return Reject(3, f"Canister {to_text(canister_id)} has no update method '{method}'", "IC0302")
        params, results = methods[method]
        try:
            args = candid_codec.decode(arg, params, SYSTEM_IFACE)
        except candid_codec.CandidError as e:
            return Reject(4, f"Error decoding candid: {e}", "IC0503" if canister_id else "IC0406")
        handler = getattr(self, f"_{'ledger' if canister_id == CYCLES_LEDGER_ID else 'sys'}_{method}")
        try:
            values = handler(caller, *args)
        except ManagementError as e:
            return e.reject
        return Reply(candid_codec.encode(results, values, SYSTEM_IFACE))

    # -- checks -------------------------------------------------------------------------------------------

    def _info(self, canister_id: bytes) -> dict:
        info = self.ops.canister_info(canister_id)
        if info is None:
            raise ManagementError(3, f"Canister {to_text(canister_id)} not found", "IC0301")
        return info

    def _controlled(self, caller: bytes, canister_id: Any) -> tuple[bytes, dict]:
        cid = _bytes(canister_id)
        info = self._info(cid)
        if caller not in info["controllers"]:
            listed = " ".join(to_text(c) for c in info["controllers"])
            raise ManagementError(
                5,
                f"Only the controllers of the canister {to_text(cid)} can control it.\n"
                f"Canister's controllers: {listed}\nSender's ID: {to_text(caller)}",
                "IC0512",
            )
        return cid, info

    def _new_controllers(self, caller: bytes, settings: dict | None) -> list[bytes]:
        controllers = (settings or {}).get("controllers")
        if controllers is None:
            return [caller]
        chosen = [_bytes(c) for c in controllers]
        if len(chosen) > 10:
            raise ManagementError(4, "Invalid settings: at most 10 controllers are allowed", "IC0515")
        return list(dict.fromkeys(chosen))

    def _create(self, caller: bytes, settings: dict | None) -> bytes:
        cid = self.ops.create_empty(self._new_controllers(caller, settings))
        self._remember(cid, settings)
        return cid

    def _remember(self, cid: bytes, settings: dict | None) -> None:
        kept = self.settings.setdefault(cid, {})
        for name, value in (settings or {}).items():
            if name != "controllers" and value is not None:
                kept[name] = value

    # -- management canister ------------------------------------------------------------------------------

    def _canisters_only(self, caller: bytes, method: str) -> None:
        """As the IC's ingress filter: these methods are for canisters (users: provisional_* or the
        cycles ledger)."""
        if not self.ops.is_canister(caller):
            raise ManagementError(4, f"Only canisters can call ic00 method {method}", "IC0406")

    def _sys_create_canister(self, caller: bytes, args: dict) -> list:
        self._canisters_only(caller, "create_canister")
        return [{"canister_id": Principal(bytes=self._create(caller, args["settings"]))}]

    def _sys_provisional_create_canister_with_cycles(self, caller: bytes, args: dict) -> list:
        return [{"canister_id": Principal(bytes=self._create(caller, args["settings"]))}]

    def _install(self, caller: bytes, cid: bytes, mode: dict, module: bytes, arg: bytes) -> None:
        if cid == caller:
            raise ManagementError(5, "A canister cannot install code to itself", "IC0505")
        ((name, _),) = mode.items()
        self.ops.install_module(cid, name, module, arg, caller)

    def _sys_install_code(self, caller: bytes, args: dict) -> list:
        cid, _ = self._controlled(caller, args["canister_id"])
        self._install(caller, cid, args["mode"], args["wasm_module"], args["arg"])
        return []

    def _sys_upload_chunk(self, caller: bytes, args: dict) -> list:
        cid, _ = self._controlled(caller, args["canister_id"])
        chunk = args["chunk"]
        if len(chunk) > MAX_CHUNK:
            raise ManagementError(
                4, f"Wasm chunk size {len(chunk)} exceeds the limit of {MAX_CHUNK}", "IC0505"
            )
        store = self.chunks.setdefault(cid, {})
        stored = sum(len(c) for chunks in self.chunks.values() for c in chunks.values())
        if len(store) >= MAX_CHUNKS or stored + len(chunk) > MAX_CHUNK_BYTES:
            raise ManagementError(4, "The wasm chunk store is full", "IC0505")
        digest = hashlib.sha256(chunk).digest()
        store[digest] = chunk
        return [{"hash": digest}]

    def _sys_clear_chunk_store(self, caller: bytes, args: dict) -> list:
        cid, _ = self._controlled(caller, args["canister_id"])
        self.chunks.pop(cid, None)
        return []

    def _sys_stored_chunks(self, caller: bytes, args: dict) -> list:
        cid, _ = self._controlled(caller, args["canister_id"])
        return [[{"hash": h} for h in self.chunks.get(cid, {})]]

    def _sys_install_chunked_code(self, caller: bytes, args: dict) -> list:
        cid, _ = self._controlled(caller, args["target_canister"])
        store_id = _bytes(args["store_canister"]) if args["store_canister"] is not None else cid
        if store_id != cid:
            self._controlled(caller, store_id)
        store = self.chunks.get(store_id, {})
        try:
            module = b"".join(store[c["hash"]] for c in args["chunk_hashes_list"])
        except KeyError:
            raise ManagementError(4, "A chunk hash is not in the chunk store", "IC0505") from None
        if hashlib.sha256(module).digest() != args["wasm_module_hash"]:
            raise ManagementError(4, "The assembled wasm module does not have the given hash", "IC0505")
        self._install(caller, cid, args["mode"], module, args["arg"])
        return []

    def _sys_uninstall_code(self, caller: bytes, args: dict) -> list:
        cid, _ = self._controlled(caller, args["canister_id"])
        self.ops.uninstall(cid)
        return []

    def _sys_canister_status(self, caller: bytes, args: dict) -> list:
        cid, info = self._controlled(caller, args["canister_id"])
        kept = self.settings.get(cid, {})
        settings = {
            "controllers": [Principal(bytes=c) for c in info["controllers"]],
            "compute_allocation": kept.get("compute_allocation", 0),
            "memory_allocation": kept.get("memory_allocation", 0),
            "freezing_threshold": kept.get("freezing_threshold", 2_592_000),
            "reserved_cycles_limit": kept.get("reserved_cycles_limit", 5_000_000_000_000),
            "minimum_incoming_canister_call_cycles": kept.get("minimum_incoming_canister_call_cycles", 0),
            "log_visibility": kept.get("log_visibility", {"controllers": None}),
            "log_memory_limit": kept.get("log_memory_limit", 4096),
            "snapshot_visibility": kept.get("snapshot_visibility", {"controllers": None}),
            "status_visibility": kept.get("status_visibility", {"controllers": None}),
            "wasm_memory_limit": kept.get("wasm_memory_limit", 3 * 1024**3),
            "wasm_memory_threshold": kept.get("wasm_memory_threshold", 0),
            "environment_variables": kept.get("environment_variables", []),
        }
        memory = info["memory_size"]
        metrics = dict.fromkeys(
            (
                "wasm_memory_size",
                "global_memory_size",
                "wasm_binary_size",
                "custom_sections_size",
                "canister_history_size",
                "wasm_chunk_store_size",
                "snapshots_size",
                "log_memory_store_size",
            ),
            0,
        )
        metrics["stable_memory_size"] = memory
        metrics["wasm_chunk_store_size"] = sum(len(c) for c in self.chunks.get(cid, {}).values())
        status = {
            "status": {info["status"]: None},
            "ready_for_migration": False,
            "version": info["version"],
            "settings": settings,
            "module_hash": info["module_hash"],
            "memory_size": memory,
            "memory_metrics": metrics,
            "cycles": STATUS_CYCLES,
            "reserved_cycles": 0,
            "idle_cycles_burned_per_day": 0,
            "query_stats": dict.fromkeys(
                (
                    "num_calls_total",
                    "num_instructions_total",
                    "request_payload_bytes_total",
                    "response_payload_bytes_total",
                ),
                0,
            ),
        }
        return [status]

    def _sys_update_settings(self, caller: bytes, args: dict) -> list:
        cid, _ = self._controlled(caller, args["canister_id"])
        settings = args["settings"]
        if settings["controllers"] is not None:
            self.ops.set_controllers(cid, self._new_controllers(caller, settings))
        self._remember(cid, settings)
        return []

    def _sys_start_canister(self, caller: bytes, args: dict) -> list:
        cid, _ = self._controlled(caller, args["canister_id"])
        self.ops.set_running(cid, True)
        return []

    def _sys_stop_canister(self, caller: bytes, args: dict) -> list:
        cid, _ = self._controlled(caller, args["canister_id"])
        self.ops.set_running(cid, False)
        return []

    def _sys_delete_canister(self, caller: bytes, args: dict) -> list:
        cid, info = self._controlled(caller, args["canister_id"])
        if info["status"] != "stopped":
            raise ManagementError(
                5, f"Canister {to_text(cid)} must be stopped before it is deleted.", "IC0510"
            )
        self.ops.delete_canister(cid)
        self.chunks.pop(cid, None)
        self.settings.pop(cid, None)
        return []

    def _sys_deposit_cycles(self, caller: bytes, args: dict) -> list:
        self._canisters_only(caller, "deposit_cycles")
        self._info(_bytes(args["canister_id"]))
        return []

    def _sys_provisional_top_up_canister(self, caller: bytes, args: dict) -> list:
        self._info(_bytes(args["canister_id"]))
        return []

    def _sys_raw_rand(self, caller: bytes) -> list:
        self._canisters_only(caller, "raw_rand")
        return [os.urandom(32)]

    # -- cycles ledger and cycles minting canister --------------------------------------------------------

    def _ledger_create_canister(self, caller: bytes, args: dict) -> list:
        creation = args["creation_args"] or {}
        try:
            cid = self._create(caller, creation.get("settings"))
        except ManagementError as e:
            failed = {"fee_block": None, "refund_block": None, "error": e.reject.message}
            return [{"Err": {"FailedToCreate": failed}}]
        return [{"Ok": {"block_id": 0, "canister_id": Principal(bytes=cid)}}]

    def _ledger_icrc1_balance_of(self, caller: bytes, args: dict) -> list:
        return [10**18]  # every account can pay: localnet does not account cycles

    def _sys_get_default_subnets(self, caller: bytes) -> list:
        return [[Principal(bytes=self.ops.subnet_id)]]
