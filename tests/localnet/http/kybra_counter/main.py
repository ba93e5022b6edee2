"""A tiny Kybra canister for the HTTP interface's end-to-end tests: a counter in stable memory."""

from kybra import Opt, Principal, StableBTreeMap, blob, ic, nat64, query, text, update, void

counts = StableBTreeMap[text, nat64](memory_id=0, max_key_size=32, max_value_size=16)


@query
def get(name: text) -> nat64:
    value: Opt[nat64] = counts.get(name)
    return 0 if value is None else value


@update
def inc(name: text) -> nat64:
    value = get(name) + 1
    counts.insert(name, value)
    return value


@update
def inc_then_trap(name: text) -> void:
    inc(name)
    ic.trap("deliberate trap after a write")


@query
def whoami() -> Principal:
    return ic.caller()


@update
def certify(data: blob) -> void:
    ic.set_certified_data(data)


@query
def certificate() -> Opt[blob]:
    return ic.data_certificate()


@update
def certify_then_trap(data: blob) -> void:
    ic.set_certified_data(data)
    ic.trap("deliberate trap after set_certified_data")
