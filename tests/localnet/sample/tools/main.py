"""Third sample canister: inspect_message, Manual replies, raw stable memory, raw calls, runaway code."""

import os

from kybra import (
    Async,
    CallResult,
    Manual,
    Opt,
    Principal,
    Service,
    StableBTreeMap,
    Vec,
    blob,
    heartbeat,
    ic,
    inspect_message,
    nat64,
    query,
    service_update,
    text,
    update,
    void,
)

notes = StableBTreeMap[nat64, text](memory_id=0, max_key_size=16, max_value_size=100)


@inspect_message
def screen() -> void:
    if ic.method_name() != "refused_at_ingress":
        ic.accept_message()


@heartbeat
def beat() -> void:
    notes.insert(10, str(int(notes.get(10) or "0") + 1))


@update
def refused_at_ingress() -> text:
    notes.insert(0, "ran")
    return "ran"


@update
def manual_echo(message: text) -> Manual[text]:
    ic.reply(message)


@update
def manual_silent() -> Manual[text]:
    notes.insert(1, "silent")


@update
def write_raw(offset: nat64, data: blob) -> nat64:
    needed = (offset + len(data) + 65535) // 65536
    if ic.stable64_size() < needed:
        ic.stable64_grow(needed - ic.stable64_size())
    ic.stable64_write(offset, data)
    return ic.stable64_size()


@query
def read_raw(offset: nat64, length: nat64) -> blob:
    return ic.stable64_read(offset, length)


@query
def counters() -> Vec[nat64]:
    return [ic.canister_balance(), ic.performance_counter(0)]


@update
def spin() -> void:
    notes.insert(2, "spinning")
    ic.print("spinning")
    while True:
        pass


@update
def crash() -> void:
    notes.insert(3, "crashing")
    os._exit(3)


def deeper(n: int) -> int:
    return deeper(n + 1) + 1


@update
def recurse() -> nat64:
    return deeper(0)


@update
def raw_call(target: Principal, method: text, arg: blob) -> Async[text]:
    result: CallResult[blob] = yield ic.call_raw(target, method, arg, 0)
    if result.Err is not None:
        return "Err: " + result.Err
    return result.Ok.hex()


@query
def note(key: nat64) -> Opt[text]:
    return notes.get(key)


@query
def certificate() -> Opt[blob]:
    return ic.data_certificate()


@update
def certificate_in_update() -> Opt[blob]:
    return ic.data_certificate()


@update
def count_up() -> nat64:
    n = int(notes.get(20) or "0") + 1
    notes.insert(20, str(n))
    return n


class Other(Service):
    @service_update
    def ping(self) -> text: ...


@update
def try_notify(target: Principal) -> text:
    Other(target).ping().notify()
    return "sent"
