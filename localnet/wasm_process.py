"""One canister's process under Kybra's RustPython in wasmtime, metered in wasm instructions.

The interpreter (`localnet/rustpython_runtime.py`) runs `localnet/rustpython_guest.py`, which imports the
canister and then asks the host for one command after another over WASI fd 0. The canister's Python
heap therefore lives in the wasm instance across messages, as on the IC. Stable memory, Candid and the
`ic` API stay on the host (`KybraHost`, `StableMemory`), exactly as in the CPython runtime.

Messages are executed as in `localnet/canister_process.py`: the guest asks for its next command from
inside a host call, and there the canister process forks; the fork answers the guest and runs the
message. A trap or a query ends the fork, so the wasm heap and stable memory are as before the message
(the IC rolls back the heap of a trapped message too); a successful update makes the fork the canister.
Every message gets the IC's instruction limit as wasmtime fuel (one unit per wasm instruction); running
out traps it with IC0522. `ic.performance_counter` returns the fuel used so far, and each message's count
is written to the canister's log.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import kybra
import wasmtime
from kybra import Principal
from wasmtime import _ffi as ffi

from localnet import candid_codec, principal_paths, rp_marshal, rustpython_runtime
from localnet.candid_types import Method
from localnet.canister_process import (
    EXITING,
    HEARTBEAT_NS,
    TAKE_OVER,
    call_outcome,
    outgoing_call,
    read_boot,
    serve_canister,
    take_due_timer,
    trapped,
)
from localnet.kybra_host import Context, KybraHost, Trap
from localnet.outcome import Reject, Reply
from localnet.process_messages import CallOut, Done
from localnet.wasi_preview1 import GuestExit, GuestFiles, Wasi, write_to

GUEST = Path(__file__).resolve().parent / "rustpython_guest.py"
EMPTY_REPLY = b"DIDL\x00\x00"


def limit_exceeded(canister_id: bytes, limit: int) -> Reject:
    """The IC's reject for a message that ran out of instructions."""
    text = Principal(bytes=canister_id).to_str()
    return Reject(
        5,
        f"Error from Canister {text}: Canister exceeded the limit of {limit} instructions for single "
        "message execution.",
        "IC0522",
    )


# How the IC names a wasm trap ("Canister trapped: <reason>", IC0502).
TRAP_REASONS = {
    "STACK_OVERFLOW": "stack overflow",
    "MEMORY_OUT_OF_BOUNDS": "heap out of bounds",
    "UNREACHABLE": "unreachable",
    "INTEGER_DIVISION_BY_ZERO": "integer division by 0",
}


def wasm_trapped(canister_id: bytes, trap: wasmtime.Trap) -> Reject:
    """The IC's reject for a canister whose wasm trapped (a RustPython panic is `unreachable`)."""
    code = trap.trap_code
    name = code.name if code is not None else "unknown"
    reason = TRAP_REASONS.get(name, name.lower().replace("_", " "))
    text = Principal(bytes=canister_id).to_str()
    return Reject(5, f"Error from Canister {text}: Canister trapped: {reason}.", "IC0502")


def fuel_left(caller: Any) -> int:
    left = ctypes.c_uint64(0)
    ffi.wasmtime_context_get_fuel(caller._context(), ctypes.byref(left))
    return left.value


def set_fuel(caller: Any, amount: int) -> None:
    ffi.wasmtime_context_set_fuel(caller._context(), amount)


@dataclass
class _Message:
    """The message this process is executing."""

    op: str  # start | message | inspect | pre_upgrade | timer
    ctx: Context
    method: Method | None
    limit: int
    commands: list[tuple] = field(default_factory=list)  # further guest commands after a "return"
    due_before: int | None = None


class MeteredHost(KybraHost):
    """KybraHost whose performance counter is the message's wasm instruction count."""

    def __init__(self, *args: Any, meter: Any):
        super().__init__(*args)
        self.meter = meter

    def performance_counter(self, counter_type: int) -> int:
        self._c()
        return self.meter()


class WasmWorker:
    """The canister under RustPython: the wasm instance, its host objects and the message loop."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.canister_id, self.entry, self.iface, self.memory = read_boot(conn)
        self.caller: Any = None  # the wasmtime Caller of the host call in progress
        self.host = MeteredHost(self.iface, self.memory, self.canister_id, sys.stdout, meter=self.used)
        self.current: _Message | None = None
        # Async methods awaiting a call, by call id: (context, method, reply types or None for raw).
        self.suspended: dict[int, tuple[Context, Method | None, tuple | None]] = {}
        self.verdict_fd = -1  # in a fork: where to tell the parent whether this fork takes over
        self.exiting: list[int] = []
        self.heartbeat_due: int | None = None
        self.last_time = 0
        engine = rustpython_runtime.engine()
        module = rustpython_runtime.load_module(engine)
        _, lib = rustpython_runtime.unpacked()
        files = GuestFiles(
            {
                "/canister": self.entry.parent,
                "/kybra/kybra": Path(kybra.__file__).parent,
                "/lib": lib,
                "/localnet/guest.py": GUEST,
            }
        )
        argv = ["rustpython.wasm", "/localnet/guest.py", "/canister", "/kybra", "/lib"]
        self.wasi = Wasi(files, argv, self.channel, write_to(sys.stdout), self.now_ns, self.canister_id)
        linker = wasmtime.Linker(engine)  # type: ignore[arg-type]
        self.wasi.define(linker, module)  # type: ignore[arg-type]
        self.store = wasmtime.Store(engine)  # type: ignore[arg-type]
        self.instance = linker.instantiate(self.store, module)  # type: ignore[arg-type]

    def now_ns(self) -> int:
        return self.host.ctx.time if self.host.ctx is not None else self.last_time

    def used(self) -> int:
        if self.current is None or self.caller is None:
            return 0
        return self.current.limit - fuel_left(self.caller)

    # -- the guest's run -------------------------------------------------------------------------------------

    def serve(self) -> None:
        """Run the interpreter; it returns only when the guest dies (trap, out of instructions)."""
        self.conn.send(("ready",))
        # Booting the interpreter is charged to the install message, as Kybra's init does it.
        self.store.set_fuel(rustpython_runtime.INSTALL_LIMIT)
        limit = rustpython_runtime.INSTALL_LIMIT
        self.current = _Message("start", Context("init", "init", b"", 0), None, limit)
        self.current.commands.append(("wait",))
        try:
            self.instance.exports(self.store)["_start"](self.store)
            outcome = trapped(self.canister_id, "the interpreter exited")
        except wasmtime.Trap as e:
            if e.trap_code == wasmtime.TrapCode.OUT_OF_FUEL and self.current is not None:
                outcome = limit_exceeded(self.canister_id, self.current.limit)
            else:
                outcome = wasm_trapped(self.canister_id, e)
        except GuestExit as e:
            outcome = trapped(self.canister_id, str(e))
        except BaseException as e:  # a bug in localnet itself must still answer the replica
            outcome = trapped(self.canister_id, f"localnet error: {type(e).__name__}: {e}")
        used = 0
        if self.current is not None:
            used = self.current.limit - self.store.get_fuel()
        self.log_count(used)
        sys.stdout.flush()
        with contextlib.suppress(OSError):
            self.conn.send(Done(outcome, info={"instructions": used}))
        if self.verdict_fd >= 0:
            os.write(self.verdict_fd, EXITING)
        os._exit(0)

    def channel(self, caller: Any, data: bytes) -> bytes:
        """A guest request: an `ic` call, or its result and the request for the next command."""
        self.caller = caller
        request = rp_marshal.loads(data)
        if request[0] == "ic":
            return rp_marshal.dumps(self.ic_call(request[1], request[2]))
        result = request[1]
        m = self.current
        if m is not None and m.commands and (result is None or result[0] == "return"):
            command = m.commands.pop(0)
            if command != ("wait",):
                return rp_marshal.dumps(command)
            self.current = None  # the interpreter is up: wait for the install message
        elif m is not None:
            self.finish(result)
        return rp_marshal.dumps(self.next_command())

    def ic_call(self, name: str, args: tuple) -> tuple:
        fn = getattr(self.host, name, None)
        if fn is None or name.startswith("_"):
            return ("error", f"'_kybra_ic' object has no attribute '{name}'")
        try:
            return ("ok", fn(*args))
        except Trap as e:
            return ("trap", str(e))
        except Exception as e:
            return ("trap", f"{type(e).__name__}: {e}")

    # -- messages --------------------------------------------------------------------------------------------

    def next_command(self) -> tuple:
        """Wait for the replica's next message; it runs in a fork, which returns its first command."""
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                os._exit(0)
            if msg[0] == "exit":
                os._exit(0)
            if msg[0] == "start":
                return self.begin(msg)
            if msg[0] == "timer":  # changed before the fork, so a callback that traps is not retried
                msg = ("timer", msg[1], self.take_due_job(msg[1]))
            due_before = self.next_due()
            read, write = os.pipe()
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                os.close(read)
                self.verdict_fd = write
                self.exiting.clear()
                command = self.begin(msg)
                assert self.current is not None
                self.current.due_before = due_before
                return command
            os.close(write)
            verdict = os.read(read, 1)
            os.close(read)
            if verdict == TAKE_OVER:
                os._exit(0)
            if msg[0] == "resume":  # the continuation ended without committing: nothing awaits any more
                self.suspended.pop(msg[1], None)
            if verdict == EXITING:
                self.exiting.append(pid)
            else:
                os.waitpid(pid, 0)
                crashed = trapped(self.canister_id, "the canister process crashed")
                self.conn.send(Done(crashed, info={"next_timer": due_before}))
            self.reap()

    def take_due_job(self, time: int) -> tuple[int, bool] | str | None:
        """The due timer as (id, fires once), else "heartbeat" if due, else None; the timer is dropped or
        rescheduled here, before the fork (as on the IC, a callback that traps is not retried)."""
        taken = take_due_timer(self.host.timers, time)
        if taken is not None:
            return (taken[0], not taken[1].interval)
        if self.heartbeat_due is not None and self.heartbeat_due <= time:
            self.heartbeat_due = time + HEARTBEAT_NS
            return "heartbeat"
        return None

    def next_due(self) -> int | None:
        dues = [d for d in (self.host.next_timer_due(), self.heartbeat_due) if d is not None]
        return min(dues, default=None)

    def reap(self) -> None:
        for pid in list(self.exiting):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.exiting.remove(pid)

    def lifecycle_call(self, name: str, arg: bytes | None = None) -> tuple:
        """The guest command running lifecycle method `name` (nothing when the canister has none)."""
        method = self.iface.lifecycle(name)
        if method is None:
            bad = None
            if arg not in (None, b"", EMPTY_REPLY):
                try:
                    candid_codec.decode(arg, (), self.iface)  # type: ignore[arg-type]
                except candid_codec.CandidError as e:
                    bad = f"invalid {name} argument: {e}"
            return ("call", None, self.entry.stem, None, [], bad, False, None)
        return self.call_command(method, arg, f"invalid {name} argument")

    def call_command(self, method: Method, arg: bytes | None, what: str) -> tuple:
        args: list[Any] = []
        bad = None
        if arg is not None:
            try:
                args = candid_codec.decode(arg, method.params, self.iface)
            except candid_codec.CandidError as e:
                bad = f"{what}: {e}"
        # the guest converts Principals in the arguments only when there are some, and in the reply only
        # where its type can hold one (principal_paths)
        plan = principal_paths.reply_plan(self.iface, method.returns)
        return ("call", method.guard, method.module, method.name, args, bad,
                principal_paths.holds_principal(args), plan)

    def begin(self, msg: tuple) -> tuple:
        """Set up the message's context and fuel; the guest's first command for it."""
        op = msg[0]
        commands: list[tuple] = []
        method: Method | None = None
        if op == "start":
            _, mode, pre_writes, arg, caller, time = msg
            self.memory.apply(pre_writes)
            if self.iface.lifecycle("heartbeat") is not None:
                self.heartbeat_due = time + HEARTBEAT_NS
            ctx = Context(mode, mode, caller, time, arg)
            names = {m.module for m in self.iface.methods.values()} | {self.entry.stem}
            first: tuple = ("import", sorted(names, key=lambda n: (n != self.entry.stem, n)))
            commands.append(self.lifecycle_call(mode, arg))
        elif op == "pre_upgrade":
            _, caller, time = msg
            ctx = Context("pre_upgrade", "pre_upgrade", caller, time)
            first = self.lifecycle_call("pre_upgrade")
        elif op == "inspect":
            _, name, arg, caller, time = msg
            ctx = Context("inspect_message", name, caller, time, arg)
            first = self.lifecycle_call("inspect_message")
        elif op == "timer":
            _, time, job = msg
            ctx = Context("update", "heartbeat" if job == "heartbeat" else "<timer>", self.canister_id, time)
            if job == "heartbeat":
                first = self.lifecycle_call("heartbeat")
            elif job is None:
                first = ("call", None, self.entry.stem, None, [], None, False, None)
            else:
                first = ("fire", *job)
        elif op == "resume":  # the answer to a call an async method awaits: its continuation
            _, call_id, answer, time = msg
            ctx, method, returns = self.suspended.pop(call_id)
            ctx.time = time
            ok, err = call_outcome(self.iface, ctx, answer, returns)
            first = ("resume", call_id, ok, err)
            op = "message"
        else:
            op = "message"
            _, kind, name, arg, caller, time, extra = msg
            method = self.iface.methods[name]
            ctx = Context(kind, name, caller, time, arg, data_certificate=extra.get("data_certificate"))
            first = self.call_command(method, arg, f"invalid argument for {name}")
        if op == "start":
            limit = rustpython_runtime.INSTALL_LIMIT  # the fuel set at boot: the boot is part of it
        else:
            kind = "heartbeat" if op == "timer" else ctx.kind
            limit = rustpython_runtime.LIMITS.get(kind, rustpython_runtime.UPDATE_LIMIT)
            set_fuel(self.caller, limit)
        self.current = _Message(op, ctx, method, limit, commands)
        self.host.ctx = ctx
        self.last_time = ctx.time
        return first

    def outcome(self, m: _Message, result: tuple) -> Reply | Reject:
        ctx, method = m.ctx, m.method
        status, value = result
        if status == "trap":
            return trapped(self.canister_id, value)
        if status == "guard":
            ctx.rejected = value
        if ctx.rejected is not None:
            return Reject(4, ctx.rejected, "IC0406")
        if method is not None and method.manual:
            if ctx.replied is None:
                return Reject(5, "Canister did not reply to the call", "IC0504")
            return Reply(ctx.replied)
        if ctx.replied is not None:
            return Reply(ctx.replied)
        if method is None:
            return Reply(EMPTY_REPLY)
        try:
            payload = [value] if method.returns else []
            return Reply(candid_codec.encode(method.returns, payload, self.iface))
        except candid_codec.CandidError as e:
            raise Trap(f"cannot encode the reply of {method.name}: {e}") from None

    def log_count(self, used: int) -> None:
        m = self.current
        if m is not None:
            sys.stdout.write(f"{m.ctx.time} [instructions] {m.ctx.kind} {m.ctx.method}: {used}\n")

    def finish(self, result: tuple) -> None:
        """The guest finished the message: answer the replica, then commit (take over) or end this fork."""
        m = self.current
        assert m is not None
        if result[0] == "call":
            self.call_out(m, result)
            return
        used = self.used()
        try:
            outcome = self.outcome(m, result)
            ok = result[0] != "trap"
        except Trap as e:
            outcome, ok = trapped(self.canister_id, str(e)), False
        self.log_count(used)
        self.current = None
        self.host.ctx = None
        info: dict[str, Any] = {"instructions": used}
        kind = m.ctx.kind
        if m.op == "start":
            ok = isinstance(outcome, Reply)
            commit = ok
            response = Done(outcome, self.memory.take_writes() if ok else {}, m.ctx.certified_data, ok)
        elif m.op == "inspect":
            commit = False
            accepted = isinstance(outcome, Reply) and m.ctx.accepted
            info["accepted"] = accepted
            response = Done(outcome if isinstance(outcome, Reject) else Reply(b""))
        else:
            commit = ok and kind == "update"
            keep = commit or (ok and kind == "pre_upgrade")
            writes = self.memory.take_writes() if keep else {}
            response = Done(outcome, writes, m.ctx.certified_data if commit else None, commit)
        info["next_timer"] = self.next_due() if commit or m.op == "start" else m.due_before
        response.info.update(info)
        sys.stdout.flush()
        if self.verdict_fd < 0:  # install or upgrade, in the canister process itself
            self.conn.send(response)
            return
        if commit:
            os.write(self.verdict_fd, TAKE_OVER)
            os.close(self.verdict_fd)
            self.verdict_fd = -1
            self.conn.send(response)
            return
        self.conn.send(response)
        os.write(self.verdict_fd, EXITING)
        os._exit(0)

    def call_out(self, m: _Message, result: tuple) -> None:
        """The async method awaits a call: commit what it did so far (as the IC does at an await), hand
        the call to the replica and carry on as the canister until the answer resumes it."""
        _, call_id, name, args = result
        try:
            if m.op != "message" or m.ctx.kind == "query":
                raise Trap(f"a {m.ctx.kind} cannot make inter-canister calls on localnet")
            target, callee, arg, returns = outgoing_call(self.iface, name, args)
        except Trap as e:
            self.finish(("trap", str(e)))
            return
        self.log_count(self.used())
        self.suspended[call_id] = (m.ctx, m.method, returns)
        writes = self.memory.take_writes()
        certified, m.ctx.certified_data = m.ctx.certified_data, None
        self.current = None
        self.host.ctx = None
        sys.stdout.flush()
        if self.verdict_fd >= 0:
            os.write(self.verdict_fd, TAKE_OVER)
            os.close(self.verdict_fd)
            self.verdict_fd = -1
        self.conn.send(CallOut(writes, certified, target, callee, arg, call_id))


def main() -> None:
    serve_canister(WasmWorker)


if __name__ == "__main__":
    main()
