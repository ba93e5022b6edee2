"""Candid types of the system canisters localnet answers for: the management canister (`aaaaa-aa`, the
methods of the IC interface specification it implements), and of the cycles ledger and the cycles
minting canister the part that `icp` uses to create canisters."""

from __future__ import annotations

from localnet.candid_types import BLOB, CType, Interface, Opt, Prim, Record, Variant, Vec

NAT, NAT64, TEXT, BOOL, PRINCIPAL, NULL = (
    Prim("nat"),
    Prim("nat64"),
    Prim("text"),
    Prim("bool"),
    Prim("principal"),
    Prim("null"),
)


def record(**fields: CType) -> Record:
    return Record(tuple(fields.items()))


def variant(**cases: CType) -> Variant:
    return Variant(tuple(cases.items()))


VISIBILITY = variant(controllers=NULL, public=NULL, allowed_viewers=Vec(PRINCIPAL))
ENVIRONMENT_VARIABLE = record(name=TEXT, value=TEXT)
CANISTER_SETTINGS = record(
    controllers=Opt(Vec(PRINCIPAL)),
    compute_allocation=Opt(NAT),
    memory_allocation=Opt(NAT),
    freezing_threshold=Opt(NAT),
    reserved_cycles_limit=Opt(NAT),
    minimum_incoming_canister_call_cycles=Opt(NAT),
    log_visibility=Opt(VISIBILITY),
    log_memory_limit=Opt(NAT),
    snapshot_visibility=Opt(VISIBILITY),
    status_visibility=Opt(VISIBILITY),
    wasm_memory_limit=Opt(NAT),
    wasm_memory_threshold=Opt(NAT),
    environment_variables=Opt(Vec(ENVIRONMENT_VARIABLE)),
)
DEFINITE_SETTINGS = record(
    controllers=Vec(PRINCIPAL),
    compute_allocation=NAT,
    memory_allocation=NAT,
    freezing_threshold=NAT,
    reserved_cycles_limit=NAT,
    minimum_incoming_canister_call_cycles=NAT,
    log_visibility=VISIBILITY,
    log_memory_limit=NAT,
    snapshot_visibility=VISIBILITY,
    status_visibility=VISIBILITY,
    wasm_memory_limit=NAT,
    wasm_memory_threshold=NAT,
    environment_variables=Vec(ENVIRONMENT_VARIABLE),
)
CANISTER_ID_RECORD = record(canister_id=PRINCIPAL)
INSTALL_MODE = variant(
    install=NULL,
    reinstall=NULL,
    upgrade=Opt(
        record(skip_pre_upgrade=Opt(BOOL), wasm_memory_persistence=Opt(variant(keep=NULL, replace=NULL)))
    ),
)
CHUNK_HASH = record(hash=BLOB)
MEMORY_METRICS = record(
    wasm_memory_size=NAT,
    stable_memory_size=NAT,
    global_memory_size=NAT,
    wasm_binary_size=NAT,
    custom_sections_size=NAT,
    canister_history_size=NAT,
    wasm_chunk_store_size=NAT,
    snapshots_size=NAT,
    log_memory_store_size=NAT,
)
QUERY_STATS = record(
    num_calls_total=NAT,
    num_instructions_total=NAT,
    request_payload_bytes_total=NAT,
    response_payload_bytes_total=NAT,
)
CANISTER_STATUS = record(
    status=variant(running=NULL, stopping=NULL, stopped=NULL),
    ready_for_migration=BOOL,
    version=NAT64,
    settings=DEFINITE_SETTINGS,
    module_hash=Opt(BLOB),
    memory_size=NAT,
    memory_metrics=MEMORY_METRICS,
    cycles=NAT,
    reserved_cycles=NAT,
    idle_cycles_burned_per_day=NAT,
    query_stats=QUERY_STATS,
)

# method -> (parameter types, result types)
MANAGEMENT: dict[str, tuple[tuple[CType, ...], tuple[CType, ...]]] = {
    "create_canister": (
        (record(settings=Opt(CANISTER_SETTINGS), sender_canister_version=Opt(NAT64)),),
        (CANISTER_ID_RECORD,),
    ),
    "provisional_create_canister_with_cycles": (
        (
            record(
                amount=Opt(NAT),
                settings=Opt(CANISTER_SETTINGS),
                specified_id=Opt(PRINCIPAL),
                sender_canister_version=Opt(NAT64),
            ),
        ),
        (CANISTER_ID_RECORD,),
    ),
    "install_code": (
        (
            record(
                mode=INSTALL_MODE,
                canister_id=PRINCIPAL,
                wasm_module=BLOB,
                arg=BLOB,
                sender_canister_version=Opt(NAT64),
            ),
        ),
        (),
    ),
    "install_chunked_code": (
        (
            record(
                mode=INSTALL_MODE,
                target_canister=PRINCIPAL,
                store_canister=Opt(PRINCIPAL),
                chunk_hashes_list=Vec(CHUNK_HASH),
                wasm_module_hash=BLOB,
                arg=BLOB,
                sender_canister_version=Opt(NAT64),
            ),
        ),
        (),
    ),
    "upload_chunk": ((record(canister_id=PRINCIPAL, chunk=BLOB),), (CHUNK_HASH,)),
    "clear_chunk_store": ((CANISTER_ID_RECORD,), ()),
    "stored_chunks": ((CANISTER_ID_RECORD,), (Vec(CHUNK_HASH),)),
    "uninstall_code": ((record(canister_id=PRINCIPAL, sender_canister_version=Opt(NAT64)),), ()),
    "canister_status": ((CANISTER_ID_RECORD,), (CANISTER_STATUS,)),
    "update_settings": (
        (record(canister_id=PRINCIPAL, settings=CANISTER_SETTINGS, sender_canister_version=Opt(NAT64)),),
        (),
    ),
    "start_canister": ((CANISTER_ID_RECORD,), ()),
    "stop_canister": ((CANISTER_ID_RECORD,), ()),
    "delete_canister": ((CANISTER_ID_RECORD,), ()),
    "deposit_cycles": ((CANISTER_ID_RECORD,), ()),
    "provisional_top_up_canister": ((record(canister_id=PRINCIPAL, amount=NAT),), ()),
    "raw_rand": ((), (BLOB,)),
}

# The cycles ledger's create_canister (what `icp canister create` and `icp deploy` call).
SUBNET_SELECTION = variant(Subnet=record(subnet=PRINCIPAL), Filter=record(subnet_type=Opt(TEXT)))
LEDGER_CREATE_ERROR = variant(
    GenericError=record(error_code=NAT, message=TEXT),
    FailedToCreate=record(fee_block=Opt(NAT), refund_block=Opt(NAT), error=TEXT),
    InsufficientFunds=record(balance=NAT),
)
CYCLES_LEDGER: dict[str, tuple[tuple[CType, ...], tuple[CType, ...]]] = {
    "create_canister": (
        (
            record(
                from_subaccount=Opt(BLOB),
                created_at_time=Opt(NAT64),
                amount=NAT,
                creation_args=Opt(
                    record(subnet_selection=Opt(SUBNET_SELECTION), settings=Opt(CANISTER_SETTINGS))
                ),
            ),
        ),
        (variant(Ok=record(block_id=NAT, canister_id=PRINCIPAL), Err=LEDGER_CREATE_ERROR),),
    ),
    "icrc1_balance_of": ((record(owner=PRINCIPAL, subaccount=Opt(BLOB)),), (NAT,)),
}
CYCLES_MINTING: dict[str, tuple[tuple[CType, ...], tuple[CType, ...]]] = {
    "get_default_subnets": ((), (Vec(PRINCIPAL),)),
}
QUERY_METHODS = {"icrc1_balance_of", "get_default_subnets"}

SYSTEM_IFACE = Interface()  # the codecs' caches for these types
