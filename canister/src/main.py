"""Kybra Simple DB: the database canister. Candid types, stable maps and endpoints; the work is in db_api.

Everything Kybra's compiler treats specially (Record/Variant classes, StableBTreeMap declarations,
@query/@update/@init/... functions) lives here and nowhere else. Each endpoint reads `ic.caller()` once
and hands plain Python values to `db_api.DbApi`, which returns Candid-shaped dicts.
The `query` and `update` endpoints are defined last: defining them rebinds the module names `query` and
`update`, so any later `@query` / `@update` would decorate with the endpoint instead of Kybra's decorator.
"""

import known_principals
from audit_chain import BLOCK_TYPE, BLOCK_TYPE_URL
from db_api import DbApi
from error_map import ApiError
from kybra import (
    Func,
    Opt,
    Principal,
    Query,
    Record,
    StableBTreeMap,
    Tuple,
    Variant,
    Vec,
    blob,
    float64,
    ic,
    init,
    nat,
    nat32,
    nat64,
    null,
    post_upgrade,
    pre_upgrade,
    query,
    text,
    update,
    void,
)


class Value(Variant, total=False):
    Text: text
    Int: int
    Float: float64
    Bool: bool
    Principal: Principal
    Timestamp: nat64
    Null: null


class Field(Record):
    name: text
    value: Value


class Error(Variant, total=False):
    NotFound: text
    Forbidden: text
    Unauthenticated: text
    Invalid: text
    Conflict: text
    Limit: text


class Ref(Record):
    relation: text
    target_type: text
    target_id: Opt[nat64]


class Entity(Record):
    type_name: text
    id: nat64
    fields: Vec[Field]
    refs: Vec[Ref]
    owner: Principal
    creator: Principal
    updater: Principal
    created_at: nat64
    updated_at: nat64
    version: nat64


class FieldKind(Variant, total=False):
    Text: null
    Int: null
    Float: null
    Bool: null
    Principal: null
    Timestamp: null


class FieldDef(Record):
    name: text
    kind: FieldKind
    required: bool
    default: Opt[Value]
    min: Opt[float64]
    max: Opt[float64]
    indexed: bool


class RelationKind(Variant, total=False):
    OneToOne: null
    OneToMany: null
    ManyToOne: null
    ManyToMany: null


class OnDelete(Variant, total=False):
    SetNull: null
    Cascade: null
    Restrict: null


class RelationDef(Record):
    name: text
    kind: RelationKind
    target: text
    reverse: text
    on_delete: OnDelete


class ReadAccess(Variant, total=False):
    Public: null
    Owner: null
    Admins: null


class CreateAccess(Variant, total=False):
    Anyone: null
    Admins: null


class WriteAccess(Variant, total=False):
    Owner: null
    Admins: null


class Policy(Record):
    read: ReadAccess
    create: CreateAccess
    modify: WriteAccess
    delete: WriteAccess
    certified: Opt[bool]


class TypeDef(Record):
    name: text
    fields: Vec[FieldDef]
    alias: Opt[text]
    relations: Vec[RelationDef]
    policy: Policy


class DeleteProgress(Record):
    done: bool
    deleted: nat64
    pending: nat64


class DeleteProgressResult(Variant, total=False):
    Ok: DeleteProgress
    Err: Error


class EntityPage(Record):
    items: Vec[Entity]
    next: Opt[nat64]


class IdPage(Record):
    items: Vec[nat64]
    next: Opt[nat64]


class AuditEntry(Record):
    seq: nat64
    time: nat64
    caller: text
    operation: text
    type_name: text
    id: nat64
    changes: Vec[Field]


class AuditPage(Record):
    items: Vec[AuditEntry]
    next: Opt[nat64]


class DumpPage(Record):
    data: text
    next: Opt[text]


class TypeCount(Record):
    type_name: text
    count: nat64


class Stats(Record):
    types: Vec[TypeCount]
    entities: nat64
    audit_length: nat64
    stable_memory_bytes: nat64


class CreateOp(Record):
    type_name: text
    fields: Vec[Field]


class UpdateOp(Record):
    type_name: text
    id: nat64
    fields: Vec[Field]
    expected_version: Opt[nat64]


class DeleteOp(Record):
    type_name: text
    id: nat64


class LinkOp(Record):
    type_name: text
    id: nat64
    relation: text
    target_id: nat64


class TransferOp(Record):
    type_name: text
    id: nat64
    owner: Principal


class UpsertOp(Record):
    type_name: text
    alias: Value
    fields: Vec[Field]


class Op(Variant, total=False):
    Create: CreateOp
    Update: UpdateOp
    Delete: DeleteOp
    Link: LinkOp
    Unlink: LinkOp
    Transfer: TransferOp
    Upsert: UpsertOp


class OpResult(Variant, total=False):
    Entity: Entity
    Done: null


class UnitResult(Variant, total=False):
    Ok: null
    Err: Error


class EntityResult(Variant, total=False):
    Ok: Entity
    Err: Error


class EntityPageResult(Variant, total=False):
    Ok: EntityPage
    Err: Error


class IdPageResult(Variant, total=False):
    Ok: IdPage
    Err: Error


class CountResult(Variant, total=False):
    Ok: nat64
    Err: Error


class BatchResult(Variant, total=False):
    Ok: Vec[OpResult]
    Err: Error


class AuditPageResult(Variant, total=False):
    Ok: AuditPage
    Err: Error


class DumpPageResult(Variant, total=False):
    Ok: DumpPage
    Err: Error


class CertifiedEntity(Record):
    entity: Opt[Entity]
    witness: blob
    certificate: blob


class CertifiedEntityResult(Variant, total=False):
    Ok: CertifiedEntity
    Err: Error


class CertifiedPage(Record):
    items: Vec[Entity]
    next: Opt[nat64]
    witness: blob
    certificate: blob


class CertifiedPageResult(Variant, total=False):
    Ok: CertifiedPage
    Err: Error


# --- ICRC-3 (the types of the standard) ---


class ICRC3Value(Variant, total=False):
    Blob: blob
    Text: text
    Nat: nat
    Int: int
    Array: Vec["ICRC3Value"]
    Map: Vec[Tuple[text, "ICRC3Value"]]


class GetBlocksArg(Record):
    start: nat
    length: nat


class BlockWithId(Record):
    id: nat
    block: ICRC3Value


GetBlocksCallback = Func(Query[[Vec[GetBlocksArg]], "GetBlocksResult"])


class ArchivedBlocks(Record):
    args: Vec[GetBlocksArg]
    callback: GetBlocksCallback


class GetBlocksResult(Record):
    log_length: nat
    blocks: Vec[BlockWithId]
    archived_blocks: Vec[ArchivedBlocks]


class ICRC3DataCertificate(Record):
    certificate: blob
    hash_tree: blob


class BlockType(Record):
    block_type: text
    url: text


class GetArchivesArgs(Record):
    from_: Opt[Principal]


class ICRC3ArchiveInfo(Record):
    canister_id: Principal
    start: nat
    end: nat


class QueryOp(Variant, total=False):
    Eq: null
    Ne: null
    Lt: null
    Le: null
    Gt: null
    Ge: null
    Between: null
    In: null
    StartsWith: null


class Filter(Record):
    field: text
    op: QueryOp
    values: Vec[Value]


class Order(Record):
    field: text
    descending: bool


class QueryRequest(Record):
    type_name: text
    filters: Vec[Filter]
    order: Opt[Order]
    cursor: Opt[text]
    limit: nat32


class QueryPage(Record):
    items: Vec[Entity]
    next: Opt[text]
    scanned: nat64
    complete: bool


class QueryPageResult(Variant, total=False):
    Ok: QueryPage
    Err: Error


class CountPage(Record):
    count: nat64
    next: Opt[text]


class CountPageResult(Variant, total=False):
    Ok: CountPage
    Err: Error


class Upserted(Record):
    entity: Entity
    created: bool


class UpsertResult(Variant, total=False):
    Ok: Upserted
    Err: Error


class AuditQuery(Record):
    start: Opt[nat64]
    newest_first: bool
    type_name: Opt[text]
    id: Opt[nat64]
    caller: Opt[Principal]
    limit: nat32


class RebuildResult(Variant, total=False):
    Ok: Opt[nat64]
    Err: Error


# Stable memory. Sizes are fixed forever at the first deploy; docs/canister.md explains each choice.
db_storage = StableBTreeMap[str, str](memory_id=0, max_key_size=128, max_value_size=1024)
audit_storage = StableBTreeMap[str, str](memory_id=1, max_key_size=80, max_value_size=1024)
meta_storage = StableBTreeMap[str, str](memory_id=2, max_key_size=128, max_value_size=16384)
cert_storage = StableBTreeMap[str, str](memory_id=3, max_key_size=128, max_value_size=1100)

# The engine calls Kybra's host functions itself with each map's memory id (storage_contract
# host_functions): the same calls as the maps' methods make, without a Python frame each (~25,000
# instructions per stable-map access on Kybra's RustPython). `_kybra_ic` is Kybra's glue object, set in
# builtins before this module is imported (on the IC and in localnet on both runtimes).
for _map in (db_storage, audit_storage, meta_storage, cert_storage):
    _map.host_functions = (_map.memory_id, _kybra_ic.stable_b_tree_map_get,  # type: ignore # noqa: F821
                           _kybra_ic.stable_b_tree_map_insert,  # type: ignore # noqa: F821
                           _kybra_ic.stable_b_tree_map_remove,  # type: ignore # noqa: F821
                           _kybra_ic.stable_b_tree_map_contains_key)  # type: ignore # noqa: F821

STABLE_MAPS = {
    "db": (db_storage, 128, 1024),
    "audit": (audit_storage, 80, 1024),
    "meta": (meta_storage, 128, 16384),
    "cert": (cert_storage, 128, 1100),
}

known_principals.install()  # before any message: Kybra's glue parses incoming principals with from_str
# The clock, the certified data, the data certificate and the meter are Kybra's host functions
# themselves, which `ic.time`, `ic.set_certified_data`... call in one line (one Python frame fewer each:
# every update reads the time and sets the certified data)
api = DbApi(
    STABLE_MAPS,
    clock=_kybra_ic.time,  # type: ignore # noqa: F821
    principal=known_principals.from_text,
    set_certified_data=_kybra_ic.set_certified_data,  # type: ignore # noqa: F821
    data_certificate=_kybra_ic.data_certificate,  # type: ignore # noqa: F821
    meter=lambda: _kybra_ic.performance_counter(0),  # type: ignore # noqa: F821
    set_timer=lambda: ic.set_timer(0, continue_deletes),
)


_CALLER_TEXTS = {}  # principal hex -> text: the text encoding (base32 in Python) is costly
_CALLER_CACHE_SIZE = 1024


def caller_text() -> str:
    """The caller's principal as text; `ic.caller()` is costly, so each endpoint calls this once."""
    # (what `ic.caller()` returns, without its Python frame)
    caller = _kybra_ic.caller()  # type: ignore # noqa: F821
    key = caller.hex   # (the bytes in hex: a plain attribute, where `bytes` is a property, a call)
    try:
        return _CALLER_TEXTS[key]   # (a subscript: a third of get() on Kybra's RustPython)
    except KeyError:
        pass
    text = caller.to_str()
    if len(_CALLER_TEXTS) >= _CALLER_CACHE_SIZE:
        _CALLER_TEXTS.clear()
    _CALLER_TEXTS[key] = text
    return text


@init
def install() -> void:
    api.install(caller_text())


@pre_upgrade
def before_upgrade() -> void:
    api.before_upgrade()


@post_upgrade
def after_upgrade() -> void:
    api.after_upgrade()
    # A principal's text takes base64's b32 table, built on first use (~5M instructions on Kybra's
    # RustPython) and kept only by a message whose heap persists: built here, not in every query (a query's
    # heap changes are dropped) until the first update after the upgrade. `ic.caller()` needs it too.
    caller_text()


# --- schema ---


@update
def define_type(typedef: TypeDef, force: bool) -> UnitResult:
    return api.define_type(caller_text(), typedef, force)


@query
def schema() -> Vec[TypeDef]:
    return api.schema_defs()


# --- data ---


@update
def create(type_name: text, fields: Vec[Field]) -> EntityResult:
    return api.create(caller_text(), type_name, fields)


@query
def get(type_name: text, id: nat64) -> EntityResult:
    return api.get(caller_text(), type_name, id)


@query
def find(type_name: text, alias: text) -> EntityResult:
    return api.find(caller_text(), type_name, alias)


@query
def get_certified(type_name: text, id: nat64) -> CertifiedEntityResult:
    return api.get_certified(caller_text(), type_name, id)


@query
def find_certified(type_name: text, alias: text) -> CertifiedEntityResult:
    return api.find_certified(caller_text(), type_name, alias)


@update
def delete(type_name: text, id: nat64) -> UnitResult:
    return api.delete(caller_text(), type_name, id)


@update
def delete_continue(type_name: text, id: nat64) -> DeleteProgressResult:
    return api.delete_continue(caller_text(), type_name, id)


def continue_deletes() -> void:
    """Timer callback: one step of a queued stepwise delete, callers in turn (sets the next timer itself)."""
    api.continue_deletes()


@update
def link(type_name: text, id: nat64, relation: text, target_id: nat64) -> UnitResult:
    return api.link(caller_text(), type_name, id, relation, target_id)


@update
def unlink(type_name: text, id: nat64, relation: text, target_id: nat64) -> UnitResult:
    return api.unlink(caller_text(), type_name, id, relation, target_id)


@query
def links(type_name: text, id: nat64, relation: text, cursor: Opt[nat64], limit: nat32) -> IdPageResult:
    return api.links(caller_text(), type_name, id, relation, cursor, limit)


@query
def list(type_name: text, filters: Vec[Field], cursor: Opt[nat64], limit: nat32) -> EntityPageResult:
    return api.list_page(caller_text(), type_name, filters, cursor, limit)


@query
def list_certified(type_name: text, cursor: Opt[nat64], limit: nat32) -> CertifiedPageResult:
    return api.list_certified(caller_text(), type_name, cursor, limit)


@query
def count(type_name: text, filters: Vec[Field]) -> CountResult:
    return api.count(caller_text(), type_name, filters)


@query
def query_count(request: QueryRequest) -> CountPageResult:
    return api.query_count(caller_text(), request)


@update
def upsert(type_name: text, alias: Value, fields: Vec[Field]) -> UpsertResult:
    return api.upsert(caller_text(), type_name, alias, fields)


@update
def batch(ops: Vec[Op]) -> BatchResult:
    return api.batch(caller_text(), ops)


@update
def transfer(type_name: text, id: nat64, owner: Principal) -> EntityResult:
    return api.transfer(caller_text(), type_name, id, owner)


# --- history and export ---


@query
def audit(start: nat64, end: Opt[nat64], limit: nat32) -> AuditPageResult:
    return api.audit(caller_text(), start, end, limit)


@query
def icrc3_get_blocks(args: Vec[GetBlocksArg]) -> GetBlocksResult:
    try:
        return api.icrc3_get_blocks(caller_text(), args)
    except ApiError as exc:
        ic.trap(exc.message)


@query
def icrc3_get_tip_certificate() -> Opt[ICRC3DataCertificate]:
    return api.icrc3_get_tip_certificate()


@query
def icrc3_supported_block_types() -> Vec[BlockType]:
    return [{"block_type": BLOCK_TYPE, "url": BLOCK_TYPE_URL}]


@query
def icrc3_get_archives(args: GetArchivesArgs) -> Vec[ICRC3ArchiveInfo]:
    return []


@query
def audit_query(request: AuditQuery) -> AuditPageResult:
    return api.audit_query(caller_text(), request)


@query
def dump(cursor: Opt[text], limit: nat32) -> DumpPageResult:
    return api.dump(caller_text(), cursor, limit)


@update
def restore(data: text) -> CountResult:
    return api.restore(caller_text(), data)


# --- operations ---


@query
def whoami() -> Principal:
    return ic.caller()


@query
def stats() -> Stats:
    return api.stats(caller_text())


@update
def add_admin(principal: Principal) -> UnitResult:
    return api.add_admin(caller_text(), principal)


@update
def remove_admin(principal: Principal) -> UnitResult:
    return api.remove_admin(caller_text(), principal)


@query
def admins() -> Vec[Principal]:
    return api.admins_list()


@update
def rebuild_indexes(type_name: text, cursor: Opt[nat64], limit: nat32) -> RebuildResult:
    return api.rebuild_indexes(caller_text(), type_name, cursor, limit)


# Defining `query` rebinds the decorator's name: no `@query` may follow it (only `update`, below).
@query
def query(request: QueryRequest) -> QueryPageResult:
    return api.query(caller_text(), request)


@update
def update(type_name: text, id: nat64, fields: Vec[Field], expected_version: Opt[nat64]) -> EntityResult:
    return api.update(caller_text(), type_name, id, fields, expected_version)
