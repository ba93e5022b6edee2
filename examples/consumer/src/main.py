"""An example Kybra canister that keeps notes in the Kybra Simple DB canister through inter-canister calls.

It declares only the part of the database's Candid interface it uses (`create`, `get`, `update`,
`delete`, `whoami`) and never imports the database's own main.py. The database sees this canister's
principal as the caller, so it owns the notes it creates and may change only those. The database
canister id is set once by the installer (`set_database`).
"""

from kybra import (
    Async,
    CallResult,
    Opt,
    Principal,
    Record,
    Service,
    StableBTreeMap,
    Variant,
    Vec,
    float64,
    ic,
    init,
    nat64,
    null,
    query,
    service_query,
    service_update,
    text,
    update,
    void,
)

NOTE_TYPE = "demo::Note"


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


class EntityResult(Variant, total=False):
    Ok: Entity
    Err: Error


class NoteResult(Variant, total=False):
    Ok: Entity
    Err: Error
    CallFailed: text


class PrincipalResult(Variant, total=False):
    Ok: Principal
    CallFailed: text


class ConfigResult(Variant, total=False):
    Ok: null
    Err: text


class UnitResult(Variant, total=False):
    Ok: null
    Err: Error


class ForgetResult(Variant, total=False):
    Ok: null
    Err: Error
    CallFailed: text


class SimpleDb(Service):
    @service_update
    def create(self, type_name: text, fields: Vec[Field]) -> EntityResult: ...

    @service_update
    def update(
        self, type_name: text, id: nat64, fields: Vec[Field], expected_version: Opt[nat64]
    ) -> EntityResult: ...

    @service_update
    def delete(self, type_name: text, id: nat64) -> UnitResult: ...

    @service_query
    def get(self, type_name: text, id: nat64) -> EntityResult: ...

    @service_query
    def whoami(self) -> Principal: ...


settings = StableBTreeMap[str, str](memory_id=0, max_key_size=32, max_value_size=128)


@init
def install() -> void:
    settings.insert("installer", ic.caller().to_str())


@update
def set_database(db: Principal) -> ConfigResult:
    if ic.caller().to_str() != settings.get("installer"):
        return {"Err": "only the installer sets the database canister"}
    settings.insert("db", db.to_str())
    return {"Ok": None}


@query
def database() -> Opt[Principal]:
    db = settings.get("db")
    return None if db is None else Principal.from_str(db)


def connect() -> SimpleDb:
    db = settings.get("db")
    if db is None:
        ic.trap("set_database has not been called")
    return SimpleDb(Principal.from_str(db))


def note_result(result: CallResult[EntityResult]) -> NoteResult:
    if result.Err is not None:
        return {"CallFailed": result.Err}
    reply = result.Ok
    if "Ok" in reply:
        return {"Ok": reply["Ok"]}
    return {"Err": reply["Err"]}


@update
def remember(title: text, body: text) -> Async[NoteResult]:
    fields = [{"name": "title", "value": {"Text": title}}, {"name": "body", "value": {"Text": body}}]
    result: CallResult[EntityResult] = yield connect().create(NOTE_TYPE, fields)
    return note_result(result)


@update
def recall(id: nat64) -> Async[NoteResult]:
    result: CallResult[EntityResult] = yield connect().get(NOTE_TYPE, id)
    return note_result(result)


@update
def edit(id: nat64, body: text) -> Async[NoteResult]:
    fields = [{"name": "body", "value": {"Text": body}}]
    result: CallResult[EntityResult] = yield connect().update(NOTE_TYPE, id, fields, None)
    return note_result(result)


@update
def forget(id: nat64) -> Async[ForgetResult]:
    result: CallResult[UnitResult] = yield connect().delete(NOTE_TYPE, id)
    if result.Err is not None:
        return {"CallFailed": result.Err}
    return result.Ok


@update
def identity_at_database() -> Async[PrincipalResult]:
    result: CallResult[Principal] = yield connect().whoami()
    if result.Err is not None:
        return {"CallFailed": result.Err}
    return {"Ok": result.Ok}
