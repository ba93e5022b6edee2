"""Sample Kybra canister for localnet's runtime tests: every Candid type, traps, heap and stable state."""

from kybra import (
    Alias,
    GuardResult,
    Opt,
    Principal,
    Record,
    StableBTreeMap,
    Tuple,
    Variant,
    Vec,
    blob,
    float32,
    float64,
    ic,
    init,
    int8,
    int16,
    int32,
    int64,
    nat,
    nat8,
    nat16,
    nat32,
    nat64,
    null,
    post_upgrade,
    pre_upgrade,
    query,
    reserved,
    text,
    update,
    void,
)
from sample_lib.shapes import Shape, area

Ids = Alias[Vec[nat64]]


class Everything(Record):
    t: text
    b: bool
    n: nat
    i: int
    n8: nat8
    n16: nat16
    n32: nat32
    n64: nat64
    i8: int8
    i16: int16
    i32: int32
    i64: int64
    f32: float32
    f64: float64
    p: Principal
    bl: blob
    o: Opt[text]
    v: Vec[int32]
    tup: Tuple[text, nat8]
    nul: null
    r: reserved
    ids: Ids
    shape: Shape


class Tree(Record):
    label: text
    children: Vec["Tree"]


class Entry(Record):
    key: text
    value: text


class PutResult(Variant, total=False):
    Ok: Opt[text]
    Err: text


kv = StableBTreeMap[text, text](memory_id=0, max_key_size=32, max_value_size=100)
history = StableBTreeMap[nat64, Entry](memory_id=1, max_key_size=16, max_value_size=200)
upgrades = StableBTreeMap[text, nat64](memory_id=2, max_key_size=32, max_value_size=16)

cache = {}  # heap state: must follow the same commit/rollback rules as stable memory
heap_counter = [0]


def only_signed_in() -> GuardResult:
    if ic.caller().to_str() == "2vxsx-fae":
        return {"Err": "anonymous callers are not allowed"}
    return {"Ok": None}


@init
def setup(greeting: text) -> void:
    kv.insert("greeting", greeting)
    kv.insert("installer", ic.caller().to_str())


@pre_upgrade
def before_upgrade() -> void:
    upgrades.insert("pre", (upgrades.get("pre") or 0) + 1)


@post_upgrade
def after_upgrade(greeting: text) -> void:
    upgrades.insert("post", (upgrades.get("post") or 0) + 1)
    kv.insert("greeting", greeting)


@query
def echo_all(e: Everything) -> Everything:
    return e


@query
def echo_tree(t: Tree) -> Tree:
    return t


@query
def tree_size(t: Tree) -> nat32:
    return 1 + sum(tree_size(c) for c in t["children"])


@query
def shape_area(s: Shape) -> float64:
    return area(s)


@query
def add(a: int, b: int) -> int:
    return a + b


@update
def put(key: text, value: text) -> Opt[text]:
    cache[key] = value
    heap_counter[0] += 1
    history.insert(history.len(), {"key": key, "value": value})
    return kv.insert(key, value)


@update
def put_checked(key: text, value: text) -> PutResult:
    try:
        return {"Ok": kv.insert(key, value)}
    except Exception as e:
        return {"Err": str(e)}


@query
def get(key: text) -> Opt[text]:
    return kv.get(key)


@query
def cached(key: text) -> Opt[text]:
    return cache.get(key)


@query
def heap_count() -> nat64:
    return heap_counter[0]


@query
def keys() -> Vec[text]:
    return kv.keys()


@query
def entries() -> Vec[Tuple[text, text]]:
    return kv.items()


@query
def history_len() -> nat64:
    return history.len()


@query
def upgrade_counts() -> Tuple[nat64, nat64]:
    return (upgrades.get("pre") or 0, upgrades.get("post") or 0)


@update
def put_then_trap(key: text, value: text) -> void:
    cache[key] = value
    heap_counter[0] += 1
    kv.insert(key, value)
    history.insert(history.len(), {"key": key, "value": value})
    ic.trap("boom after writes")


@update
def put_then_raise(key: text, value: text) -> void:
    cache[key] = value
    kv.insert(key, value)
    raise ValueError("bad value " + value)


@query
def query_writes(key: text, value: text) -> Opt[text]:
    cache[key] = value
    heap_counter[0] += 1
    kv.insert(key, value)
    return kv.get(key)


@query
def whoami() -> Principal:
    return ic.caller()


@query
def self_id() -> Principal:
    return ic.id()


@query
def now() -> nat64:
    return ic.time()


@update
def tick() -> nat64:
    return ic.time()


@update(guard=only_signed_in)
def guarded() -> text:
    return "welcome " + ic.caller().to_str()


@update
def refuse(message: text) -> void:
    kv.insert("refused", message)
    ic.reject(message)


@update
def remove(key: text) -> Opt[text]:
    return kv.remove(key)


@update
def certify(data: blob) -> void:
    ic.set_certified_data(data)


@query
def say(message: text) -> text:
    ic.print("said: " + message)
    return message


@query
def bad_reply() -> nat8:
    return 300


def on_timer() -> None:
    kv.insert("timer", "fired by " + ("self" if ic.caller().to_str() == ic.id().to_str() else "other"))


@update
def start_timer(delay: nat64) -> nat64:
    return ic.set_timer(delay, on_timer)


@update
def start_timer_then_trap() -> void:
    ic.set_timer(0, lambda: kv.insert("trapped_timer", "fired"))
    ic.trap("no timer")


def failing_timer() -> None:
    ic.print("failing timer ran")
    kv.insert("failing_timer", "wrote")
    ic.trap("timer trap")


@update
def start_failing_timer() -> void:
    ic.set_timer(0, failing_timer)
