"""Less common canister behaviour: inspect_message, Manual replies, raw stable memory, raw calls,
runaway or crashing code, and the replica's own failure handling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localnet import candid_codec as codec
from localnet.candid_types import BLOB, Opt, Prim, Vec
from localnet.outcome import Reject, Reply
from localnet.replica import DeployError, Replica
from localnet.source_interface import read_interface
from localnet.state_store import StateStore

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
TOOLS = SAMPLE / "tools" / "main.py"
STORE = SAMPLE / "store" / "main.py"
IFACE = read_interface(TOOLS)[0]
ANON = b"\x04"
NAT64, TEXT = Prim("nat64"), Prim("text")
NONE = b"DIDL\x00\x00"


def arg(*pairs) -> bytes:
    return codec.encode([t for t, _ in pairs], [v for _, v in pairs], IFACE)


def value(outcome, t):
    assert isinstance(outcome, Reply), outcome
    return codec.decode(outcome.arg, (t,), IFACE)[0]


@pytest.fixture(scope="module")
def tools():
    with Replica(message_timeout=3.0) as r:
        store = r.deploy("store", STORE, codec.encode([TEXT], ["hi"], IFACE))
        yield r, r.deploy("tools", TOOLS), store


def note(r, cid, key):
    return value(r.query(cid, "note", arg((NAT64, key)), ANON), Opt(TEXT))


def test_inspect_message_refuses_ingress_before_execution(tools):
    r, cid, _ = tools
    out = r.update(cid, "refused_at_ingress", NONE, ANON)
    assert isinstance(out, Reject) and (out.code, out.error_code) == (4, "IC0406")
    assert note(r, cid, 0) is None
    assert value(r.update(cid, "manual_echo", arg((TEXT, "ok")), ANON), TEXT) == "ok"


def test_manual_method_that_never_replies(tools):
    r, cid, _ = tools
    out = r.update(cid, "manual_silent", NONE, ANON)
    assert isinstance(out, Reject) and out.error_code == "IC0504"


def test_raw_stable_memory_persists_across_messages_and_pages(tools):
    r, cid, _ = tools
    data = bytes(range(256)) * 300  # crosses a 64 KiB page boundary at this offset
    pages = value(r.update(cid, "write_raw", arg((NAT64, 65000), (BLOB, data)), ANON), NAT64)
    assert pages == 3
    assert value(r.query(cid, "read_raw", arg((NAT64, 65000), (NAT64, len(data))), ANON), BLOB) == data
    out = r.query(cid, "read_raw", arg((NAT64, 3 * 65536 - 1), (NAT64, 2)), ANON)
    assert isinstance(out, Reject) and "out of bounds" in out.message


def test_cycles_and_performance_counter(tools):
    r, cid, _ = tools
    balance, instructions = value(r.query(cid, "counters", NONE, ANON), Vec(NAT64))
    assert balance > 0 and instructions >= 0


def test_runaway_message_is_stopped_and_the_canister_reset(tools):
    r, cid, _ = tools
    r.update(cid, "manual_echo", arg((TEXT, "before")), ANON)
    out = r.update(cid, "spin", NONE, ANON)
    assert isinstance(out, Reject) and out.error_code == "IC0522"
    assert note(r, cid, 2) is None
    assert value(r.update(cid, "manual_echo", arg((TEXT, "after")), ANON), TEXT) == "after"


def test_a_crashing_message_leaves_the_canister_intact(tools):
    r, cid, _ = tools
    out = r.update(cid, "crash", NONE, ANON)
    assert isinstance(out, Reject) and out.code == 5 and "crashed" in out.message
    assert note(r, cid, 3) is None
    assert value(r.update(cid, "manual_echo", arg((TEXT, "alive")), ANON), TEXT) == "alive"


def test_unbounded_recursion_traps(tools):
    r, cid, _ = tools
    out = r.update(cid, "recurse", NONE, ANON)
    assert isinstance(out, Reject) and "RecursionError" in out.message


def test_raw_inter_canister_call(tools):
    r, cid, store = tools
    get_arg = codec.encode([TEXT], ["greeting"], IFACE)
    out = r.update(cid, "raw_call", arg((Prim("principal"), store), (TEXT, "get"), (BLOB, get_arg)), ANON)
    reply = bytes.fromhex(value(out, TEXT))
    assert codec.decode(reply, (Opt(TEXT),), IFACE) == ["hi"]
    out = r.update(cid, "raw_call", arg((Prim("principal"), store), (TEXT, "nope"), (BLOB, NONE)), ANON)
    assert value(out, TEXT).startswith("Err: Rejection code 3")


def test_a_canister_whose_source_vanished_is_reported_not_fatal(tmp_path):
    entry = tmp_path / "gone" / "main.py"
    entry.parent.mkdir()
    entry.write_text(TOOLS.read_text())
    with Replica(tmp_path / "state") as r:
        cid = r.deploy("tools", entry)
    entry.unlink()
    with Replica(tmp_path / "state") as r:
        assert r.canisters() == {"tools": cid}
        out = r.update(cid, "manual_echo", arg((TEXT, "x")), ANON)
        assert isinstance(out, Reject) and out.error_code == "IC0508" and "no such file" in out.message


def test_upgrade_without_an_argument_reuses_the_last_one(tmp_path):
    with Replica(tmp_path / "state") as r:
        cid = r.deploy("store", STORE, codec.encode([TEXT], ["first"], IFACE))
        assert r.deploy("store", STORE) == cid
        greeting = r.query(cid, "get", codec.encode([TEXT], ["greeting"], IFACE), ANON)
        assert value(greeting, Opt(TEXT)) == "first"


def test_closed_replica_refuses_calls(tmp_path):
    r = Replica(tmp_path / "state")
    cid = r.deploy("tools", TOOLS)
    r.close()
    out = r.query(cid, "note", arg((NAT64, 0)), ANON)
    assert isinstance(out, Reject) and out.code == 2
    with pytest.raises(DeployError, match="closed"):
        r.deploy("again", TOOLS)
    r.close()


def test_stable_map_sizes_are_fixed_at_first_deploy(tmp_path):
    entry = tmp_path / "src" / "main.py"
    entry.parent.mkdir()
    entry.write_text(TOOLS.read_text())
    with Replica(tmp_path / "state") as r:
        cid = r.deploy("tools", entry)
        entry.write_text(TOOLS.read_text().replace("max_value_size=100", "max_value_size=101"))
        with pytest.raises(DeployError, match="fixed at first deploy"):
            r.deploy("tools", entry)
        entry.write_text(TOOLS.read_text().replace("max_value_size=100", "max_value_size=50"))
        r.deploy("tools", entry)  # shrinking is allowed
        assert value(r.update(cid, "manual_echo", arg((TEXT, "x")), ANON), TEXT) == "x"


def test_one_state_directory_serves_one_replica_and_time_never_goes_back(tmp_path):
    with Replica(tmp_path / "state") as r:
        with pytest.raises(RuntimeError, match="in use"):
            Replica(tmp_path / "state")
        r.deploy("tools", TOOLS)
    future = time.time_ns() + 3600 * 10**9  # as if the wall clock went back an hour since
    store = StateStore(tmp_path / "state" / "localnet.sqlite3")
    store.save_time(future)
    store.close()
    with Replica(tmp_path / "state") as r:
        assert r.time_ns() > future


def test_heartbeat_runs_about_every_second(tools):
    r, cid, _ = tools
    deadline = time.monotonic() + 20
    while note(r, cid, 10) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first = int(note(r, cid, 10))
    while int(note(r, cid, 10)) == first and time.monotonic() < deadline:
        time.sleep(0.05)
    assert int(note(r, cid, 10)) > first


def test_data_certificate_is_what_the_http_side_passes_and_none_in_updates(tools):
    r, cid, _ = tools
    out = r.query(cid, "certificate", NONE, ANON, data_certificate=b"cert-bytes")
    assert value(out, Opt(BLOB)) == b"cert-bytes"
    assert value(r.query(cid, "certificate", NONE, ANON), Opt(BLOB)) is None
    assert value(r.update(cid, "certificate_in_update", NONE, ANON), Opt(BLOB)) is None


def test_calls_from_many_threads_are_serialised_per_message(tools):
    r, cid, _ = tools
    start = value(r.update(cid, "count_up", NONE, ANON), NAT64)

    def work(_):
        return [value(r.update(cid, "count_up", NONE, ANON), NAT64) for _ in range(15)]

    with ThreadPoolExecutor(4) as pool:
        seen = [n for chunk in pool.map(work, range(4)) for n in chunk]
    assert sorted(seen) == list(range(start + 1, start + 61))


SPIN_RUNNER = textwrap.dedent(
    """
    import sys
    from localnet.replica import Replica
    r = Replica(sys.argv[1])
    cid = r.deploy("tools", sys.argv[2])
    print(cid.hex(), r._by_id[cid].process.popen.pid, r.log_path(cid), flush=True)
    r.update(cid, "spin", b"DIDL\\x00\\x00", b"\\x04")
    """
)


def live_processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every process that is not a zombie."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            found.append((int(stat.parent.name), int(fields[1]), int(fields[2])))
    return found


def test_kill_9_during_a_runaway_update_keeps_nothing_and_stops_the_canister(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", SPIN_RUNNER, str(tmp_path / "state"), str(TOOLS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        cid_hex, reaper, log = proc.stdout.readline().split()
        deadline = time.monotonic() + 20
        while "spinning" not in Path(log).read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        groups = {g for _, ppid, g in live_processes() if ppid == int(reaper)}
        assert groups
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    while any(g in groups for _, _, g in live_processes()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(g in groups for _, _, g in live_processes())  # the spinning fork is gone too
    with Replica(tmp_path / "state") as r:
        assert note(r, bytes.fromhex(cid_hex), 2) is None


def test_unsupported_system_apis_trap_with_a_clear_message(tools):
    r, cid, store = tools
    out = r.update(cid, "try_notify", arg((Prim("principal"), store)), ANON)
    assert isinstance(out, Reject) and "notify (one-way calls) is not supported by localnet" in out.message
