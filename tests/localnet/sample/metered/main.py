"""Sample canister for the RustPython runtime tests: heap and stable state, traps, instruction counts."""

from kybra import StableBTreeMap, Tuple, ic, nat64, post_upgrade, query, update, void

marks = StableBTreeMap[nat64, nat64](memory_id=0, max_key_size=16, max_value_size=16)
heap = [0]


@post_upgrade
def upgraded() -> void:
    heap[0] = 1000


@update
def bump() -> nat64:
    heap[0] += 1
    marks.insert(heap[0], heap[0])
    return heap[0]


@update
def bump_then_trap() -> void:
    heap[0] += 1
    marks.insert(heap[0], heap[0])
    ic.trap("trapped after writes")


@update
def bump_then_raise() -> void:
    heap[0] += 1
    marks.insert(heap[0], heap[0])
    raise ValueError("raised after writes")


@query
def state() -> Tuple[nat64, nat64]:
    return (heap[0], marks.len())


@query
def spin(n: nat64) -> Tuple[nat64, nat64]:
    """The instruction counter before and after `n` loop iterations."""
    before = ic.performance_counter(0)
    total = 0
    for i in range(n):
        total += i
    return (before, ic.performance_counter(0))


@query
def burn() -> nat64:
    n = 0
    while True:
        n += 1


def deeper(n: int) -> int:
    return deeper(n + 1) + 1


@update
def recurse() -> nat64:
    heap[0] += 1
    return deeper(0)
