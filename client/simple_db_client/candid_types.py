"""The canister's Candid interface (canister/simple_db.did) as ic-py `ic.candid` types."""

from __future__ import annotations

from .ic_candid import candid

Types = candid.Types

Value = Types.Variant(
    {
        "Text": Types.Text,
        "Int": Types.Int,
        "Float": Types.Float64,
        "Bool": Types.Bool,
        "Principal": Types.Principal,
        "Timestamp": Types.Nat64,
        "Null": Types.Null,
    }
)
Field = Types.Record({"name": Types.Text, "value": Value})
Error = Types.Variant(
    {
        name: Types.Text
        for name in ("NotFound", "Forbidden", "Unauthenticated", "Invalid", "Conflict", "Limit")
    }
)
Ref = Types.Record({"relation": Types.Text, "target_type": Types.Text, "target_id": Types.Opt(Types.Nat64)})
Entity = Types.Record(
    {
        "type_name": Types.Text,
        "id": Types.Nat64,
        "fields": Types.Vec(Field),
        "refs": Types.Vec(Ref),
        "owner": Types.Principal,
        "creator": Types.Principal,
        "updater": Types.Principal,
        "created_at": Types.Nat64,
        "updated_at": Types.Nat64,
        "version": Types.Nat64,
    }
)


def _enum(*names: str):
    return Types.Variant({name: Types.Null for name in names})


FieldKind = _enum("Text", "Int", "Float", "Bool", "Principal", "Timestamp")
FieldDef = Types.Record(
    {
        "name": Types.Text,
        "kind": FieldKind,
        "required": Types.Bool,
        "default": Types.Opt(Value),
        "min": Types.Opt(Types.Float64),
        "max": Types.Opt(Types.Float64),
        "indexed": Types.Bool,
    }
)
RelationKind = _enum("OneToOne", "OneToMany", "ManyToOne", "ManyToMany")
OnDelete = _enum("SetNull", "Cascade", "Restrict")
RelationDef = Types.Record(
    {
        "name": Types.Text,
        "kind": RelationKind,
        "target": Types.Text,
        "reverse": Types.Text,
        "on_delete": OnDelete,
    }
)
ReadAccess = _enum("Public", "Owner", "Admins")
CreateAccess = _enum("Anyone", "Admins")
WriteAccess = _enum("Owner", "Admins")
Policy = Types.Record(
    {
        "read": ReadAccess,
        "create": CreateAccess,
        "modify": WriteAccess,
        "delete": WriteAccess,
        "certified": Types.Opt(Types.Bool),
    }
)
TypeDef = Types.Record(
    {
        "name": Types.Text,
        "fields": Types.Vec(FieldDef),
        "alias": Types.Opt(Types.Text),
        "relations": Types.Vec(RelationDef),
        "policy": Policy,
    }
)
EntityPage = Types.Record({"items": Types.Vec(Entity), "next": Types.Opt(Types.Nat64)})
IdPage = Types.Record({"items": Types.Vec(Types.Nat64), "next": Types.Opt(Types.Nat64)})
AuditEntry = Types.Record(
    {
        "seq": Types.Nat64,
        "time": Types.Nat64,
        "caller": Types.Text,
        "operation": Types.Text,
        "type_name": Types.Text,
        "id": Types.Nat64,
        "changes": Types.Vec(Field),
    }
)
AuditPage = Types.Record({"items": Types.Vec(AuditEntry), "next": Types.Opt(Types.Nat64)})
DumpPage = Types.Record({"data": Types.Text, "next": Types.Opt(Types.Text)})
TypeCount = Types.Record({"type_name": Types.Text, "count": Types.Nat64})
Stats = Types.Record(
    {
        "types": Types.Vec(TypeCount),
        "entities": Types.Nat64,
        "audit_length": Types.Nat64,
        "stable_memory_bytes": Types.Nat64,
    }
)
CreateOp = Types.Record({"type_name": Types.Text, "fields": Types.Vec(Field)})
UpdateOp = Types.Record(
    {
        "type_name": Types.Text,
        "id": Types.Nat64,
        "fields": Types.Vec(Field),
        "expected_version": Types.Opt(Types.Nat64),
    }
)
DeleteOp = Types.Record({"type_name": Types.Text, "id": Types.Nat64})
LinkOp = Types.Record(
    {"type_name": Types.Text, "id": Types.Nat64, "relation": Types.Text, "target_id": Types.Nat64}
)
TransferOp = Types.Record({"type_name": Types.Text, "id": Types.Nat64, "owner": Types.Principal})
UpsertOp = Types.Record({"type_name": Types.Text, "alias": Value, "fields": Types.Vec(Field)})
Op = Types.Variant(
    {
        "Create": CreateOp,
        "Update": UpdateOp,
        "Delete": DeleteOp,
        "Link": LinkOp,
        "Unlink": LinkOp,
        "Transfer": TransferOp,
        "Upsert": UpsertOp,
    }
)
OpResult = Types.Variant({"Entity": Entity, "Done": Types.Null})


QueryOp = Types.Variant(
    {name: Types.Null for name in ("Eq", "Ne", "Lt", "Le", "Gt", "Ge", "Between", "In", "StartsWith")}
)
Filter = Types.Record({"field": Types.Text, "op": QueryOp, "values": Types.Vec(Value)})
Order = Types.Record({"field": Types.Text, "descending": Types.Bool})
QueryRequest = Types.Record(
    {
        "type_name": Types.Text,
        "filters": Types.Vec(Filter),
        "order": Types.Opt(Order),
        "cursor": Types.Opt(Types.Text),
        "limit": Types.Nat32,
    }
)
QueryPage = Types.Record(
    {
        "items": Types.Vec(Entity),
        "next": Types.Opt(Types.Text),
        "scanned": Types.Nat64,
        "complete": Types.Bool,
    }
)
CountPage = Types.Record({"count": Types.Nat64, "next": Types.Opt(Types.Text)})
Upserted = Types.Record({"entity": Entity, "created": Types.Bool})
AuditQuery = Types.Record(
    {
        "start": Types.Opt(Types.Nat64),
        "newest_first": Types.Bool,
        "type_name": Types.Opt(Types.Text),
        "id": Types.Opt(Types.Nat64),
        "caller": Types.Opt(Types.Principal),
        "limit": Types.Nat32,
    }
)


def _result(ok):
    return Types.Variant({"Ok": ok, "Err": Error})


UnitResult = _result(Types.Null)
EntityResult = _result(Entity)
EntityPageResult = _result(EntityPage)
IdPageResult = _result(IdPage)
CountResult = _result(Types.Nat64)
BatchResult = _result(Types.Vec(OpResult))
AuditPageResult = _result(AuditPage)
DumpPageResult = _result(DumpPage)
QueryPageResult = _result(QueryPage)
CountPageResult = _result(CountPage)
UpsertResult = _result(Upserted)
RebuildResult = _result(Types.Opt(Types.Nat64))

CertifiedEntity = Types.Record(
    {"entity": Types.Opt(Entity), "witness": Types.Vec(Types.Nat8), "certificate": Types.Vec(Types.Nat8)}
)
CertifiedEntityResult = _result(CertifiedEntity)
CertifiedPage = Types.Record(
    {
        "items": Types.Vec(Entity),
        "next": Types.Opt(Types.Nat64),
        "witness": Types.Vec(Types.Nat8),
        "certificate": Types.Vec(Types.Nat8),
    }
)
CertifiedPageResult = _result(CertifiedPage)

DeleteProgress = Types.Record({"done": Types.Bool, "deleted": Types.Nat64, "pending": Types.Nat64})
DeleteProgressResult = _result(DeleteProgress)

# ICRC-3
ICRC3Value = Types.Rec()
ICRC3Value.fill(
    Types.Variant(
        {
            "Blob": Types.Vec(Types.Nat8),
            "Text": Types.Text,
            "Nat": Types.Nat,
            "Int": Types.Int,
            "Array": Types.Vec(ICRC3Value),
            "Map": Types.Vec(Types.Tuple(Types.Text, ICRC3Value)),
        }
    )
)
GetBlocksArg = Types.Record({"start": Types.Nat, "length": Types.Nat})
GetBlocksResult = Types.Rec()
GetBlocksCallback = Types.Func([Types.Vec(GetBlocksArg)], [GetBlocksResult], ["query"])
GetBlocksResult.fill(
    Types.Record(
        {
            "log_length": Types.Nat,
            "blocks": Types.Vec(Types.Record({"id": Types.Nat, "block": ICRC3Value})),
            "archived_blocks": Types.Vec(
                Types.Record({"args": Types.Vec(GetBlocksArg), "callback": GetBlocksCallback})
            ),
        }
    )
)
ICRC3DataCertificate = Types.Record(
    {"certificate": Types.Vec(Types.Nat8), "hash_tree": Types.Vec(Types.Nat8)}
)
BlockType = Types.Record({"block_type": Types.Text, "url": Types.Text})
GetArchivesArgs = Types.Record({"from_": Types.Opt(Types.Principal)})
ICRC3ArchiveInfo = Types.Record({"canister_id": Types.Principal, "start": Types.Nat, "end": Types.Nat})

Text, Nat64, Nat32 = Types.Text, Types.Nat64, Types.Nat32
OptNat64 = Types.Opt(Types.Nat64)

# method -> (argument types, result type, "query" | "update")
METHODS: dict[str, tuple[list, object, str]] = {
    "define_type": ([TypeDef, Types.Bool], UnitResult, "update"),
    "schema": ([], Types.Vec(TypeDef), "query"),
    "create": ([Text, Types.Vec(Field)], EntityResult, "update"),
    "get": ([Text, Nat64], EntityResult, "query"),
    "find": ([Text, Text], EntityResult, "query"),
    "get_certified": ([Text, Nat64], CertifiedEntityResult, "query"),
    "find_certified": ([Text, Text], CertifiedEntityResult, "query"),
    "update": ([Text, Nat64, Types.Vec(Field), OptNat64], EntityResult, "update"),
    "delete": ([Text, Nat64], UnitResult, "update"),
    "delete_continue": ([Text, Nat64], DeleteProgressResult, "update"),
    "link": ([Text, Nat64, Text, Nat64], UnitResult, "update"),
    "unlink": ([Text, Nat64, Text, Nat64], UnitResult, "update"),
    "links": ([Text, Nat64, Text, OptNat64, Nat32], IdPageResult, "query"),
    "list": ([Text, Types.Vec(Field), OptNat64, Nat32], EntityPageResult, "query"),
    "list_certified": ([Text, OptNat64, Nat32], CertifiedPageResult, "query"),
    "count": ([Text, Types.Vec(Field)], CountResult, "query"),
    "query": ([QueryRequest], QueryPageResult, "query"),
    "query_count": ([QueryRequest], CountPageResult, "query"),
    "upsert": ([Text, Value, Types.Vec(Field)], UpsertResult, "update"),
    "batch": ([Types.Vec(Op)], BatchResult, "update"),
    "transfer": ([Text, Nat64, Types.Principal], EntityResult, "update"),
    "audit": ([Nat64, OptNat64, Nat32], AuditPageResult, "query"),
    "icrc3_get_blocks": ([Types.Vec(GetBlocksArg)], GetBlocksResult, "query"),
    "icrc3_get_tip_certificate": ([], Types.Opt(ICRC3DataCertificate), "query"),
    "icrc3_supported_block_types": ([], Types.Vec(BlockType), "query"),
    "icrc3_get_archives": ([GetArchivesArgs], Types.Vec(ICRC3ArchiveInfo), "query"),
    "audit_query": ([AuditQuery], AuditPageResult, "query"),
    "dump": ([Types.Opt(Text), Nat32], DumpPageResult, "query"),
    "restore": ([Text], CountResult, "update"),
    "whoami": ([], Types.Principal, "query"),
    "stats": ([], Stats, "query"),
    "add_admin": ([Types.Principal], UnitResult, "update"),
    "remove_admin": ([Types.Principal], UnitResult, "update"),
    "admins": ([], Types.Vec(Types.Principal), "query"),
    "rebuild_indexes": ([Text, OptNat64, Nat32], RebuildResult, "update"),
}
