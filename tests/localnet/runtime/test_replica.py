"""The Replica runs the sample Kybra canisters under CPython with the IC's message semantics."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ic.principal import Principal as IcPrincipal
from runtime_samples import everything

from localnet import candid_codec as codec
from localnet.candid_types import Opt, Prim, Record, Ref, Vec
from localnet.outcome import Reject, Reply
from localnet.replica import DeployError, Replica
from localnet.source_interface import read_interface

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
STORE = SAMPLE / "store" / "main.py"
CALLER = SAMPLE / "caller" / "main.py"
STORE_IFACE = read_interface(STORE)[0]
CALLER_IFACE = read_interface(CALLER)[0]
ANON = b"\x04"
ALICE = IcPrincipal.self_authenticating(b"alice-public-key").bytes
TEXT, NAT64, PRINCIPAL = Prim("text"), Prim("nat64"), Prim("principal")
OPT_TEXT = Opt(TEXT)
PAIR = Record((("0", NAT64), ("1", NAT64)), tuple=True)


def counts(r, cid):
    """(pre_upgrade runs, post_upgrade runs) as recorded in the store's stable memory."""
    return reply(r.query(cid, "upgrade_counts", b"DIDL\x00\x00", ANON), PAIR)


def arg(*pairs, iface=STORE_IFACE) -> bytes:
    return codec.encode([t for t, _ in pairs], [v for _, v in pairs], iface)


def reply(outcome, *types, iface=STORE_IFACE):
    assert isinstance(outcome, Reply), outcome
    values = codec.decode(outcome.arg, types, iface)
    return values[0] if len(values) == 1 else values


class Store:
    """Typed calls to the sample store canister."""

    def __init__(self, replica: Replica, cid: bytes):
        self.r, self.cid = replica, cid

    def put(self, key, value, sender=ANON):
        return self.r.update(self.cid, "put", arg((TEXT, key), (TEXT, value)), sender)

    def get(self, key):
        return reply(self.r.query(self.cid, "get", arg((TEXT, key)), ANON), OPT_TEXT)

    def cached(self, key):
        return reply(self.r.query(self.cid, "cached", arg((TEXT, key)), ANON), OPT_TEXT)

    def q(self, method, *types):
        return reply(self.r.query(self.cid, method, b"DIDL\x00\x00", ANON), *types)


@pytest.fixture(scope="module")
def net():
    with Replica() as r:
        store = r.deploy("store", STORE, arg((TEXT, "hello")), controllers=[ALICE])
        caller = r.deploy("caller", CALLER)
        yield r, Store(r, store), caller


def test_first_canister_ids_are_the_local_subnet_ones(net):
    r, store, caller = net
    assert IcPrincipal(store.cid).to_str() == "bkyz2-fmaaa-aaaaa-qaaaq-cai"
    assert IcPrincipal(caller).to_str() == "bd3sg-teaaa-aaaaa-qaaba-cai"
    assert r.canisters() == {"store": store.cid, "caller": caller}


def test_init_ran_with_its_argument_and_the_installer_as_caller(net):
    _, store, _ = net
    assert store.get("greeting") == "hello"
    assert store.get("installer") == IcPrincipal(ALICE).to_str()


def test_seam_metadata_kinds_hash_controllers(net):
    r, store, _ = net
    did = r.metadata(store.cid, "candid:service").decode()
    assert "  put : (text, text) -> (opt text);" in did
    assert r.metadata(store.cid, "other") is None
    assert r.method_kind(store.cid, "get") == "query"
    assert r.method_kind(store.cid, "put") == "update"
    assert r.method_kind(store.cid, "setup") is None  # @init is not callable
    assert r.method_kind(store.cid, "missing") is None
    assert r.method_kind(b"\x01\x02", "get") is None
    assert len(r.module_hash(store.cid)) == 32
    assert r.controllers(store.cid) == [ALICE]
    assert r.module_hash(b"nope") is None
    t1, t2 = r.time_ns(), r.time_ns()
    assert t2 > t1


def test_update_persists_and_returns_previous_value(net):
    _, store, _ = net
    assert reply(store.put("k1", "v1"), OPT_TEXT) is None
    assert reply(store.put("k1", "v2"), OPT_TEXT) == "v1"
    assert store.get("k1") == "v2"
    assert store.cached("k1") == "v2"


def test_trap_after_writes_rolls_back_stable_memory_and_heap(net):
    r, store, _ = net
    before = (store.q("heap_count", NAT64), store.q("history_len", NAT64))
    out = r.update(store.cid, "put_then_trap", arg((TEXT, "t1"), (TEXT, "x")), ANON)
    assert isinstance(out, Reject)
    assert (out.code, out.error_code) == (5, "IC0503")
    assert "boom after writes" in out.message
    assert store.get("t1") is None and store.cached("t1") is None
    assert (store.q("heap_count", NAT64), store.q("history_len", NAT64)) == before


def test_uncaught_exception_traps_with_type_and_message(net):
    r, store, _ = net
    out = r.update(store.cid, "put_then_raise", arg((TEXT, "t2"), (TEXT, "y")), ANON)
    assert isinstance(out, Reject) and out.code == 5
    assert "ValueError: bad value y" in out.message
    assert store.get("t2") is None and store.cached("t2") is None


def test_query_that_writes_keeps_nothing(net):
    r, store, _ = net
    count = store.q("heap_count", NAT64)
    out = r.query(store.cid, "query_writes", arg((TEXT, "q1"), (TEXT, "z")), ANON)
    assert reply(out, OPT_TEXT) == "z"  # the query saw its own write
    assert store.get("q1") is None and store.cached("q1") is None
    assert store.q("heap_count", NAT64) == count


def test_query_method_called_as_update_runs_as_update(net):
    r, store, _ = net
    out = r.update(store.cid, "query_writes", arg((TEXT, "q2"), (TEXT, "kept")), ANON)
    assert reply(out, OPT_TEXT) == "kept"
    assert store.get("q2") == "kept" and store.cached("q2") == "kept"


def test_update_method_is_not_a_query(net):
    r, store, _ = net
    out = r.query(store.cid, "put", arg((TEXT, "a"), (TEXT, "b")), ANON)
    assert isinstance(out, Reject) and out.code == 3 and out.error_code == "IC0302"


def test_oversize_value_or_key_traps_and_stores_nothing(net):
    r, store, _ = net
    out = store.put("big", "v" * 200)  # max_value_size=100
    assert isinstance(out, Reject) and "Value too large" in out.message
    out = store.put("k" * 40, "v")  # max_key_size=32
    assert isinstance(out, Reject) and "Key too large" in out.message
    assert store.get("big") is None and store.cached("big") is None
    # the trap cannot be caught by the canister's `except Exception`
    out = r.update(store.cid, "put_checked", arg((TEXT, "big"), (TEXT, "v" * 200)), ANON)
    assert isinstance(out, Reject) and out.code == 5
    assert store.get("big") is None


def test_malformed_or_mistyped_arguments_are_rejected_not_executed(net):
    r, store, _ = net
    count = store.q("heap_count", NAT64)
    for bad in (b"garbage", b"DIDL\x00\x01\x7d\x05", arg((TEXT, "only-one")), b"DIDL\x00\x02\x71\x71\x01a"):
        out = r.update(store.cid, "put", bad, ANON)
        assert isinstance(out, Reject) and out.code == 5 and out.error_code == "IC0503"
        assert "invalid argument" in out.message
    assert store.q("heap_count", NAT64) == count


def test_unknown_canister_and_method(net):
    r, store, _ = net
    out = r.query(b"\x00" * 10, "get", b"DIDL\x00\x00", ANON)
    assert isinstance(out, Reject) and (out.code, out.error_code) == (3, "IC0301")
    out = r.update(store.cid, "nope", b"DIDL\x00\x00", ANON)
    assert isinstance(out, Reject) and (out.code, out.error_code) == (3, "IC0302")


def test_every_candid_type_through_a_canister(net):
    r, store, _ = net
    value = everything()
    out = r.query(store.cid, "echo_all", codec.encode((Ref("Everything"),), [value], STORE_IFACE), ANON)
    got = reply(out, Ref("Everything"))
    assert got["p"].to_str() == "aaaaa-aa"
    got["p"] = value["p"] = None
    assert got == value
    tree = {"label": "r", "children": [{"label": "a", "children": []}, {"label": "b", "children": []}]}
    assert reply(r.query(store.cid, "tree_size", arg((Ref("Tree"), tree)), ANON), Prim("nat32")) == 3
    area = r.query(store.cid, "shape_area", arg((Ref("Shape"), {"Square": 3})), ANON)
    assert reply(area, Prim("float64")) == 9.0
    big = r.query(store.cid, "add", arg((Prim("int"), 2**100), (Prim("int"), -1)), ANON)
    assert reply(big, Prim("int")) == 2**100 - 1


def test_reply_that_does_not_fit_its_type_traps(net):
    r, store, _ = net
    out = r.query(store.cid, "bad_reply", b"DIDL\x00\x00", ANON)
    assert isinstance(out, Reject) and out.code == 5 and "out of range" in out.message


def test_caller_id_and_time(net):
    r, store, _ = net
    assert reply(r.query(store.cid, "whoami", b"DIDL\x00\x00", ALICE), PRINCIPAL).bytes == ALICE
    assert reply(r.query(store.cid, "self_id", b"DIDL\x00\x00", ANON), PRINCIPAL).bytes == store.cid
    t1 = reply(r.update(store.cid, "tick", b"DIDL\x00\x00", ANON), NAT64)
    t2 = reply(r.update(store.cid, "tick", b"DIDL\x00\x00", ANON), NAT64)
    t3 = reply(r.query(store.cid, "now", b"DIDL\x00\x00", ANON), NAT64)
    assert t1 < t2 < t3


def test_guard_rejects_with_its_message(net):
    r, store, _ = net
    out = r.update(store.cid, "guarded", b"DIDL\x00\x00", ANON)
    assert out == Reject(4, "anonymous callers are not allowed", "IC0406")
    ok = r.update(store.cid, "guarded", b"DIDL\x00\x00", ALICE)
    assert reply(ok, TEXT) == "welcome " + IcPrincipal(ALICE).to_str()


def test_explicit_reject_keeps_the_updates_changes(net):
    r, store, _ = net
    out = r.update(store.cid, "refuse", arg((TEXT, "not today")), ANON)
    assert out == Reject(4, "not today", "IC0406")
    assert store.get("refused") == "not today"


def test_stable_map_keys_are_ordered_like_rust(net):
    r, store, _ = net
    for key in ("zz", "Ab", "a", "ab"):
        store.put(key, "x")
    keys = store.q("keys", Vec(TEXT))
    assert keys == sorted(keys, key=str.encode)
    assert reply(r.update(store.cid, "remove", arg((TEXT, "zz")), ANON), OPT_TEXT) == "x"
    assert "zz" not in store.q("keys", Vec(TEXT))


def test_certified_data_is_recorded(net):
    r, store, _ = net
    assert isinstance(r.update(store.cid, "certify", arg((Prim("blob"), b"\x01" * 32)), ANON), Reply)
    assert r.certified_data(store.cid) == b"\x01" * 32
    out = r.update(store.cid, "certify", arg((Prim("blob"), b"\x01" * 33)), ANON)
    assert isinstance(out, Reject) and r.certified_data(store.cid) == b"\x01" * 32


def test_ic_print_goes_to_the_canister_log(net):
    r, store, _ = net
    r.query(store.cid, "say", arg((TEXT, "hi there")), ANON)
    assert "said: hi there" in r.log_path(store.cid).read_text()


# -- inter-canister calls ---------------------------------------------------------------------------------


def relay(r, caller, method, *pairs):
    return r.update(caller, method, arg(*pairs, iface=CALLER_IFACE), ANON)


def test_inter_canister_call_reaches_the_callee_as_the_calling_canister(net):
    r, store, caller = net
    out = relay(r, caller, "relay_put", (PRINCIPAL, store.cid), (TEXT, "ic1"), (TEXT, "via caller"))
    assert reply(out, OPT_TEXT, iface=CALLER_IFACE) is None
    assert store.get("ic1") == "via caller"
    who = relay(r, caller, "relay_whoami", (PRINCIPAL, store.cid))
    assert reply(who, PRINCIPAL, iface=CALLER_IFACE).bytes == caller


def test_callee_trap_arrives_as_call_result_err(net):
    r, store, caller = net
    out = relay(r, caller, "relay_error", (PRINCIPAL, store.cid))
    text = reply(out, TEXT, iface=CALLER_IFACE)
    assert text.startswith("Rejection code 5") and "boom after writes" in text
    assert store.get("x") is None


def test_changes_before_an_await_are_committed_after_a_later_trap(net):
    r, store, caller = net
    out = relay(r, caller, "relay_then_trap", (PRINCIPAL, store.cid), (TEXT, "aw"))
    assert isinstance(out, Reject) and "trap after the await" in out.message
    assert store.get("aw") == "from caller"
    log = reply(r.query(caller, "step_log", b"DIDL\x00\x00", ANON), Vec(TEXT), iface=CALLER_IFACE)
    heap = reply(r.query(caller, "heap_log", b"DIDL\x00\x00", ANON), Vec(TEXT), iface=CALLER_IFACE)
    assert log[-1] == "before aw" and heap[-1] == "before aw"


def test_nested_async_helpers_and_several_awaits(net):
    r, store, caller = net
    out = relay(r, caller, "relay_twice", (PRINCIPAL, store.cid))
    assert reply(out, OPT_TEXT, iface=CALLER_IFACE) == "2"
    assert store.get("one") == "1"


def test_call_to_a_missing_canister_is_an_err(net):
    r, _, caller = net
    out = relay(r, caller, "relay_put", (PRINCIPAL, b"\x00" * 10), (TEXT, "k"), (TEXT, "v"))
    assert isinstance(out, Reject) and "call failed: Rejection code 3" in out.message


# -- upgrades, restarts -----------------------------------------------------------------------------------


def copy_store(tmp_path: Path) -> Path:
    dest = tmp_path / "src"
    shutil.copytree(STORE.parent, dest)
    return dest / "main.py"


def test_upgrade_keeps_stable_memory_resets_heap_and_runs_hooks(tmp_path):
    entry = copy_store(tmp_path)
    with Replica(tmp_path / "state") as r:
        cid = r.deploy("store", entry, arg((TEXT, "v1")))
        s = Store(r, cid)
        s.put("kept", "yes")
        old_hash = r.module_hash(cid)
        entry.write_text(entry.read_text() + "\n\n@query\ndef version() -> text:\n    return 'v2'\n")
        assert r.deploy("store", entry, arg((TEXT, "v2"))) == cid
        assert s.get("kept") == "yes" and s.cached("kept") is None
        assert s.get("greeting") == "v2"
        assert counts(r, cid) == (
            1,
            1,
        )
        assert reply(r.query(cid, "version", b"DIDL\x00\x00", ANON), TEXT) == "v2"
        assert r.module_hash(cid) != old_hash
        assert "version : () -> (text) query;" in r.metadata(cid, "candid:service").decode()


def test_failed_upgrade_changes_nothing(tmp_path):
    entry = copy_store(tmp_path)
    with Replica(tmp_path / "state") as r:
        cid = r.deploy("store", entry, arg((TEXT, "v1")))
        s = Store(r, cid)
        s.put("kept", "yes")
        good = entry.read_text()
        old_hash = r.module_hash(cid)
        entry.write_text(good.replace('upgrades.insert("post"', 'ic.trap("no");upgrades.insert("post"'))
        with pytest.raises(DeployError, match="no"):
            r.deploy("store", entry, arg((TEXT, "v2")))
        assert s.cached("kept") == "yes"  # the old code and heap still serve
        assert s.get("greeting") == "v1" and r.module_hash(cid) == old_hash
        assert counts(r, cid) == (
            0,
            0,
        )
        entry.write_text("this is not python(")
        with pytest.raises(DeployError, match="syntax error"):
            r.deploy("store", entry, arg((TEXT, "v3")))
        with pytest.raises(DeployError, match="invalid init argument"):
            r.deploy("other", copy_store(tmp_path / "o"), b"DIDL\x00\x00")
        assert "other" not in r.canisters()
        # a failed install takes no canister id
        second = r.deploy("second", copy_store(tmp_path / "s"), arg((TEXT, "ok")))
        assert IcPrincipal(second).to_str() == "bd3sg-teaaa-aaaaa-qaaba-cai"


def test_two_canisters_with_the_same_module_names_do_not_share_state(tmp_path):
    entry = copy_store(tmp_path)
    with Replica(tmp_path / "state") as r:
        a, b = (
            Store(r, r.deploy("a", entry, arg((TEXT, "A")))),
            Store(r, r.deploy("b", entry, arg((TEXT, "B")))),
        )
        a.put("k", "from a")
        assert b.get("k") is None and b.cached("k") is None
        assert (a.get("greeting"), b.get("greeting")) == ("A", "B")


RUNNER = textwrap.dedent(
    """
    import sys
    from localnet import candid_codec as codec
    from localnet.candid_types import Prim
    from localnet.replica import Replica
    from localnet.source_interface import read_interface
    state, entry = sys.argv[1], sys.argv[2]
    iface = read_interface(entry)[0]
    T = Prim("text")
    r = Replica(state)
    cid = r.deploy("store", entry, codec.encode([T], ["hi"], iface))
    for i in range(20):
        r.update(cid, "put", codec.encode([T, T], [f"k{i}", f"v{i}"], iface), b"\\x04")
    print(cid.hex(), r.module_hash(cid).hex(), flush=True)
    sys.stdin.read()
    """
)


def test_restart_after_kill_9_loses_no_committed_update(tmp_path):
    entry = copy_store(tmp_path)
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(state), str(entry)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        cid_hex, hash_hex = proc.stdout.readline().split()
        cid = bytes.fromhex(cid_hex)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with Replica(state) as r:
        assert r.canisters() == {"store": cid}
        s = Store(r, cid)
        assert [s.get(f"k{i}") for i in range(20)] == [f"v{i}" for i in range(20)]
        assert s.q("history_len", NAT64) == 20
        # the heap was rebuilt by importing the module and running post_upgrade
        assert counts(r, cid) == (
            0,
            1,
        )
        s.put("after", "restart")
        assert r.module_hash(cid).hex() == hash_hex
    with Replica(state) as r:
        assert Store(r, cid).get("after") == "restart"


@pytest.fixture
def timed():
    """A store under a replica whose clock moves only when the test says (no sleeping)."""
    with Replica() as r:
        cid = r.deploy("store", STORE, arg((TEXT, "hello")))
        r.set_time(r.time_ns() + 10**9)
        yield r, Store(r, cid)


def test_timers_fire_as_self_calls_and_die_with_a_trap(timed):
    r, store = timed
    assert isinstance(r.update(store.cid, "start_timer_then_trap", b"DIDL\x00\x00", ANON), Reject)
    assert isinstance(r.update(store.cid, "start_timer", arg((NAT64, 5)), ANON), Reply)
    assert r.advance_time(4 * 10**9) == 0 and store.get("timer") is None
    assert r.advance_time(10**9) == 1
    assert store.get("timer") == "fired by self"
    assert store.get("trapped_timer") is None


def test_two_canisters_call_each_other_also_while_awaiting(tmp_path):
    with Replica(tmp_path / "state") as r:
        a, b = r.deploy("a", CALLER), r.deploy("b", CALLER)
        out = relay(r, a, "call_peer", (PRINCIPAL, b), (TEXT, "hi"))
        assert reply(out, TEXT, iface=CALLER_IFACE) == f"echo from {IcPrincipal(b).to_str()}: hi"
        out = relay(r, b, "call_peer", (PRINCIPAL, a), (TEXT, "ho"))
        assert reply(out, TEXT, iface=CALLER_IFACE) == f"echo from {IcPrincipal(a).to_str()}: ho"
        # a -> b -> a -> b -> a: each canister receives a call while it awaits its own
        out = relay(r, a, "bounce", (PRINCIPAL, b), (NAT64, 4))
        assert reply(out, TEXT, iface=CALLER_IFACE) == f"done at {IcPrincipal(a).to_str()}"
        logs = [
            reply(r.query(x, "step_log", b"DIDL\x00\x00", ANON), Vec(TEXT), iface=CALLER_IFACE)
            for x in (a, b)
        ]
        assert logs[0][-3:] == ["bounce 4", "bounce 2", "bounce 0"]
        assert logs[1][-2:] == ["bounce 3", "bounce 1"]
        # a canister may call itself
        out = relay(r, a, "call_peer", (PRINCIPAL, a), (TEXT, "me"))
        assert reply(out, TEXT, iface=CALLER_IFACE) == f"echo from {IcPrincipal(a).to_str()}: me"
        # unbounded ping-pong is cut off with an error, not a crash
        out = relay(r, a, "bounce", (PRINCIPAL, b), (NAT64, 1000))
        assert "call depth exceeds" in reply(out, TEXT, iface=CALLER_IFACE)


def test_a_trapping_timer_runs_once_and_rolls_back(timed):
    r, store = timed
    assert isinstance(r.update(store.cid, "start_failing_timer", b"DIDL\x00\x00", ANON), Reply)
    assert r.advance_time(0) == 1  # due at once: runs, traps, and is not retried
    assert r.advance_time(3600 * 10**9) == 0
    assert r.log_path(store.cid).read_text().count("failing timer ran") == 1
    assert store.get("failing_timer") is None


def test_trap_in_pre_upgrade_stops_the_upgrade(tmp_path):
    entry = copy_store(tmp_path)
    with Replica(tmp_path / "state") as r:
        cid = r.deploy("store", entry, arg((TEXT, "v1")))
        Store(r, cid).put("kept", "yes")
        entry.write_text(
            entry.read_text().replace(
                "def before_upgrade() -> void:\n", 'def before_upgrade() -> void:\n    ic.trap("not now")\n'
            )
        )
        r.deploy("store", entry, arg((TEXT, "v2")))  # the running code has no trap yet: fine
        with pytest.raises(DeployError, match="pre_upgrade failed.*not now"):
            r.deploy("store", entry, arg((TEXT, "v3")))
        s = Store(r, cid)
        assert s.get("greeting") == "v2" and s.get("kept") == "yes"
        assert counts(r, cid) == (1, 1)
