"""localnet's rustpython runtime: the canister runs on Kybra's RustPython in wasmtime, its heap lives across
messages and rolls back on a trap, and each message is metered against the IC's instruction limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from kybra import Principal

from localnet import candid_codec as codec
from localnet import rustpython_runtime
from localnet.candid_types import Opt, Prim, Record, Vec
from localnet.outcome import Reject, Reply
from localnet.replica import Replica
from localnet.source_interface import read_interface

METERED = Path(__file__).resolve().parents[1] / "sample" / "metered" / "main.py"
IFACE = read_interface(METERED)[0]
NAT64 = Prim("nat64")
PAIR = Record((("0", NAT64), ("1", NAT64)), tuple=True)
EMPTY = b"DIDL\x00\x00"
ANON = b"\x04"


def reply(outcome, *types):
    assert isinstance(outcome, Reply), outcome
    values = codec.decode(outcome.arg, types, IFACE)
    return values[0] if len(values) == 1 else values


@pytest.fixture(scope="module")
def net():
    if not rustpython_runtime.available():
        pytest.skip(rustpython_runtime.SKIP_REASON)
    with Replica(runtime="rustpython") as r:
        yield r, r.deploy("metered", METERED)


def state(r, cid) -> tuple:
    return tuple(reply(r.query(cid, "state", EMPTY, ANON), PAIR))


def test_the_heap_lives_in_the_wasm_instance_across_messages(net):
    r, cid = net
    before = state(r, cid)
    assert reply(r.update(cid, "bump", EMPTY, ANON), NAT64) == before[0] + 1
    assert reply(r.update(cid, "bump", EMPTY, ANON), NAT64) == before[0] + 2
    assert state(r, cid) == (before[0] + 2, before[1] + 2)


@pytest.mark.parametrize(
    ("method", "message"), [("bump_then_trap", "trapped after writes"), ("bump_then_raise", "ValueError")]
)
def test_a_trap_rolls_back_heap_and_stable_memory(net, method, message):
    r, cid = net
    r.update(cid, "bump", EMPTY, ANON)
    before = state(r, cid)
    outcome = r.update(cid, method, EMPTY, ANON)
    assert isinstance(outcome, Reject) and (outcome.code, outcome.error_code) == (5, "IC0503")
    assert message in outcome.message
    assert state(r, cid) == before
    assert reply(r.update(cid, "bump", EMPTY, ANON), NAT64) == before[0] + 1


def test_performance_counter_counts_wasm_instructions(net):
    r, cid = net
    small = reply(r.query(cid, "spin", codec.encode([NAT64], [1_000], IFACE), ANON), PAIR)
    large = reply(r.query(cid, "spin", codec.encode([NAT64], [100_000], IFACE), ANON), PAIR)
    assert 0 < small[0] < small[1] and 0 < large[0] < large[1]
    # a loop iteration costs RustPython hundreds of wasm instructions; the count grows with the work
    per_iteration = ((large[1] - large[0]) - (small[1] - small[0])) / 99_000
    assert 50 < per_iteration < 20_000


def test_each_message_instruction_count_is_logged(net):
    r, cid = net
    r.update(cid, "bump", EMPTY, ANON)
    log = r.log_path(cid).read_text().splitlines()
    lines = [line for line in log if "[instructions] update bump:" in line]
    assert lines and int(lines[-1].rsplit(": ", 1)[1]) > 0


def test_a_query_past_the_instruction_limit_is_rejected_as_on_the_ic(net):
    r, cid = net
    before = state(r, cid)
    outcome = r.query(cid, "burn", EMPTY, ANON)
    assert isinstance(outcome, Reject)
    assert (outcome.code, outcome.error_code) == (5, "IC0522")
    assert outcome.message == (
        f"Error from Canister {Principal(bytes=cid).to_str()}: Canister exceeded the limit of 5000000000 "
        "instructions for single message execution."
    )
    assert state(r, cid) == before  # the canister carries on with its heap
    log = r.log_path(cid).read_text()
    assert "[instructions] query burn: 5000000000" in log


def test_an_upgrade_keeps_stable_memory_and_starts_a_fresh_heap(net):
    r, cid = net
    marks = state(r, cid)[1]
    r.deploy("metered", METERED)
    assert state(r, cid) == (1000, marks)


def test_an_unknown_runtime_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown runtime"):
        Replica(tmp_path, runtime="pypy")


def test_values_cross_in_rustpythons_marshal_format():
    from localnet import rp_marshal

    value = {
        "t": "héllo",
        "n": [0, 1, -1, 2**70, -(2**70)],
        "f": -2.5,
        "b": b"\x00\xff",
        "o": None,
        "yes": True,
        "no": False,
        "tup": ("x", 7),
        "p": Principal.from_str("aaaaa-aa"),
    }
    back = rp_marshal.loads(rp_marshal.dumps(value))
    assert back.pop("p").to_str() == "aaaaa-aa"
    value.pop("p")
    assert back == value
    # the bytes RustPython's own marshal writes for these values (recorded from the interpreter)
    assert rp_marshal.dumps(2**70) == bytes.fromhex("6909000000000000000000000040")
    assert rp_marshal.dumps(-1) == bytes.fromhex("69ffffffff01")
    assert rp_marshal.dumps({"k": 2}) == bytes.fromhex("7b0100000075010000006b690100000002")
    with pytest.raises(rp_marshal.MarshalError):
        rp_marshal.loads(b"u\xff\x00\x00\x00ab")
    with pytest.raises(rp_marshal.MarshalError):
        rp_marshal.dumps(object())


def test_the_guest_sees_only_its_mounts_read_only(tmp_path):
    from localnet.wasi_preview1 import GuestFiles

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("x = 1")
    (tmp_path / "secret.txt").write_text("no")
    files = GuestFiles({"/canister": tmp_path / "src"})
    assert files.resolve("/canister/main.py")[2]
    assert files.resolve("/canister/../canister/main.py")[1] == tmp_path / "src" / "main.py"
    assert files.resolve("/canister/../secret.txt")[1] is None  # outside every mount
    assert not files.resolve("/canister/../../secret.txt")[2]
    assert files.listing("/", None) == [("canister", 3)]


SAMPLE = Path(__file__).resolve().parents[1] / "sample"
STORE_IFACE = read_interface(SAMPLE / "store" / "main.py")[0]
CALLER_IFACE = read_interface(SAMPLE / "caller" / "main.py")[0]
TEXT, PRINCIPAL = Prim("text"), Prim("principal")


@pytest.fixture(scope="module")
def pair():
    if not rustpython_runtime.available():
        pytest.skip(rustpython_runtime.SKIP_REASON)
    with Replica(runtime="rustpython") as r:
        store = r.deploy("store", SAMPLE / "store" / "main.py", codec.encode([TEXT], ["hi"], STORE_IFACE))
        yield r, store, r.deploy("caller", SAMPLE / "caller" / "main.py")


def relay(r, caller, method, *values):
    types = [PRINCIPAL] + [TEXT] * (len(values) - 1)
    return r.update(caller, method, codec.encode(types, list(values), CALLER_IFACE), ANON)


def stored(r, store, key):
    outcome = r.query(store, "get", codec.encode([TEXT], [key], STORE_IFACE), ANON)
    return codec.decode(outcome.arg, (Opt(TEXT),), STORE_IFACE)[0]


def test_inter_canister_calls_await_and_resume_in_the_wasm_heap(pair):
    r, store, caller = pair
    out = relay(r, caller, "relay_put", Principal(bytes=store), "k1", "via caller")
    assert isinstance(out, Reply) and stored(r, store, "k1") == "via caller"
    who = relay(r, caller, "relay_whoami", Principal(bytes=store))
    assert codec.decode(who.arg, (PRINCIPAL,), CALLER_IFACE)[0].bytes == caller
    twice = relay(r, caller, "relay_twice", Principal(bytes=store))
    assert codec.decode(twice.arg, (Opt(TEXT),), CALLER_IFACE)[0] == "2"
    err = relay(r, caller, "relay_error", Principal(bytes=store))
    assert codec.decode(err.arg, (TEXT,), CALLER_IFACE)[0].startswith("Rejection code 5")


def test_a_trap_after_an_await_keeps_what_the_await_committed(pair):
    r, store, caller = pair
    out = relay(r, caller, "relay_then_trap", Principal(bytes=store), "aw")
    assert isinstance(out, Reject) and "trap after the await" in out.message
    assert stored(r, store, "aw") == "from caller"
    empty = b"DIDL\x00\x00"
    steps = codec.decode(r.query(caller, "step_log", empty, ANON).arg, (Vec(TEXT),), CALLER_IFACE)[0]
    heap = codec.decode(r.query(caller, "heap_log", empty, ANON).arg, (Vec(TEXT),), CALLER_IFACE)[0]
    assert steps[-1] == "before aw" and heap[-1] == "before aw"


def test_a_wasm_trap_is_rejected_as_the_ic_does_and_the_canister_carries_on(net):
    r, cid = net
    before = state(r, cid)
    outcome = r.update(cid, "recurse", EMPTY, ANON)
    assert isinstance(outcome, Reject) and (outcome.code, outcome.error_code) == (5, "IC0502")
    text = Principal(bytes=cid).to_str()
    assert outcome.message == f"Error from Canister {text}: Canister trapped: stack overflow."
    assert state(r, cid) == before


@pytest.fixture
def timed():
    """The sample store on RustPython under a replica whose clock moves only when the test says."""
    if not rustpython_runtime.available():
        pytest.skip(rustpython_runtime.SKIP_REASON)
    with Replica(runtime="rustpython") as r:
        cid = r.deploy("store", SAMPLE / "store" / "main.py", codec.encode([TEXT], ["hi"], STORE_IFACE))
        r.set_time(r.time_ns() + 10**9)
        yield r, cid


def test_timers_keep_their_callbacks_in_the_wasm_heap_and_die_with_a_trap(timed):
    r, cid = timed
    assert isinstance(r.update(cid, "start_timer_then_trap", EMPTY, ANON), Reject)
    delay = codec.encode([NAT64], [5], STORE_IFACE)
    assert isinstance(r.update(cid, "start_timer", delay, ANON), Reply)
    assert r.advance_time(4 * 10**9) == 0 and stored(r, cid, "timer") is None
    assert r.advance_time(10**9) == 1
    assert stored(r, cid, "timer") == "fired by self"
    assert stored(r, cid, "trapped_timer") is None
    assert isinstance(r.update(cid, "start_failing_timer", EMPTY, ANON), Reply)
    assert r.advance_time(0) == 1  # due at once: runs, traps, and is not retried
    assert r.advance_time(3600 * 10**9) == 0
    assert r.log_path(cid).read_text().count("failing timer ran") == 1
    assert stored(r, cid, "failing_timer") is None
