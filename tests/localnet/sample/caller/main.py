"""Second sample canister: calls the store canister (inter-canister calls under localnet)."""

from kybra import (
    Async,
    CallResult,
    Opt,
    Principal,
    Service,
    StableBTreeMap,
    Vec,
    ic,
    nat64,
    query,
    service_query,
    service_update,
    text,
    update,
    void,
)


class Store(Service):
    @service_update
    def put(self, key: text, value: text) -> Opt[text]: ...

    @service_query
    def get(self, key: text) -> Opt[text]: ...

    @service_query
    def whoami(self) -> Principal: ...

    @service_update
    def put_then_trap(self, key: text, value: text) -> void: ...


steps = StableBTreeMap[nat64, text](memory_id=0, max_key_size=16, max_value_size=100)
heap_steps = []


def note(step: text) -> None:
    steps.insert(steps.len(), step)
    heap_steps.append(step)


@update
def relay_put(store: Principal, key: text, value: text) -> Async[Opt[text]]:
    note("before " + key)
    result: CallResult[Opt[text]] = yield Store(store).put(key, value)
    if result.Err is not None:
        ic.trap("call failed: " + result.Err)
    note("after " + key)
    return result.Ok


@update
def relay_whoami(store: Principal) -> Async[Principal]:
    result: CallResult[Principal] = yield Store(store).whoami()
    return result.Ok


@update
def relay_then_trap(store: Principal, key: text) -> Async[void]:
    note("before " + key)
    yield Store(store).put(key, "from caller")
    note("after " + key)
    ic.trap("trap after the await")


@update
def relay_error(store: Principal) -> Async[text]:
    result: CallResult[void] = yield Store(store).put_then_trap("x", "y")
    return result.Err if result.Err is not None else "no error"


@update
def relay_twice(store: Principal) -> Async[Opt[text]]:
    yield Store(store).put("one", "1")
    yield relay_inner(store)
    result: CallResult[Opt[text]] = yield Store(store).get("two")
    return result.Ok


def relay_inner(store: Principal) -> Async[void]:
    yield Store(store).put("two", "2")


@query
def step_log() -> Vec[text]:
    return steps.values()


@query
def heap_log() -> Vec[text]:
    return heap_steps


class Peer(Service):
    @service_update
    def echo(self, message: text) -> text: ...

    @service_update
    def bounce(self, peer: Principal, hops: nat64) -> Async[text]: ...


@update
def echo(message: text) -> text:
    note("echo " + message)
    return "echo from " + ic.id().to_str() + ": " + message


@update
def call_peer(peer: Principal, message: text) -> Async[text]:
    result: CallResult[text] = yield Peer(peer).echo(message)
    return result.Ok if result.Err is None else "Err: " + result.Err


@update
def bounce(peer: Principal, hops: nat64) -> Async[text]:
    """Ping-pong between two canisters: each call goes back to the canister that is awaiting it."""
    note("bounce " + str(hops))
    if hops == 0:
        return "done at " + ic.id().to_str()
    result: CallResult[text] = yield Peer(peer).bounce(ic.id(), hops - 1)
    return result.Ok if result.Err is None else "Err: " + result.Err
