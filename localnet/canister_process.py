"""One canister's process: its Kybra source imported under CPython, each message executed in a fork.

Started by the replica as `python -m localnet.canister_process FD`. The first process becomes a child
subreaper and only reaps; its forked child is the canister. For every message the canister forks: the
fork executes it. A query, a trap, or an uncaught exception ends the fork and its heap with it, so the
canister is exactly as before. A successful update (or an `await` point of an async update, where the
IC commits too) makes the fork the canister: it tells its parent to exit and serves from then on. The
replica commits the message's stable-memory writes to SQLite before it answers anyone.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import importlib
import inspect
import os
import pickle
import select
import signal
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from kybra import AsyncInfo, CallResult, Principal

from localnet import candid_codec
from localnet.candid_types import Interface, Method
from localnet.kybra_host import Context, KybraHost, Trap
from localnet.outcome import Reject, Reply
from localnet.process_messages import CallOut, Done
from localnet.source_interface import read_interface
from localnet.stable_memory import StableMemory
from localnet.state_store import read_stable_rows

PR_SET_CHILD_SUBREAPER = 36
TAKE_OVER, EXITING = b"T", b"E"
REAP_POLL_MS = 100
HEARTBEAT_NS = 1_000_000_000  # a heartbeat per second, about one per IC round


def trapped(canister_id: bytes, message: str) -> Reject:
    text = Principal(bytes=canister_id).to_str()
    return Reject(5, f"Canister {text} trapped explicitly: {message}", "IC0503")


def take_due_timer(timers: dict, time: int) -> tuple[int, Any] | None:
    """The earliest timer due at `time` as (id, timer), rescheduled if it repeats and dropped if not, or
    None. Both runtimes call it before forking, so a callback that traps is not retried (as on the IC)."""
    due = [(t.due, tid) for tid, t in timers.items() if t.due <= time]
    if not due:
        return None
    timer_id = min(due)[1]
    timer = timers[timer_id]
    if timer.interval:
        timer.due = time + timer.interval
    else:
        del timers[timer_id]
    return timer_id, timer


def read_boot(conn: Connection) -> tuple[bytes, Path, Interface, StableMemory]:
    """The boot message: the canister id, its entry module, that module's interface and its stable
    memory (empty on a reinstall). Both runtimes' workers start from it."""
    boot = conn.recv()
    canister_id: bytes = boot["canister_id"]
    entry = Path(boot["entry"])
    iface = read_interface(entry)[0]
    rows = [] if boot.get("fresh") else read_stable_rows(Path(boot["db"]), canister_id)
    return canister_id, entry, iface, StableMemory(iface, rows)


class Worker:
    """The canister: its module, its host object and stable memory, and the message loop."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.canister_id, self.entry, self.iface, self.memory = read_boot(conn)
        sys.path.insert(0, str(self.entry.parent))
        self.host = KybraHost(self.iface, self.memory, self.canister_id, sys.stdout)
        builtins._kybra_ic = self.host  # type: ignore[attr-defined]
        self.modules: dict[str, Any] = {}
        # Async updates awaiting a call, by call id: (generator stack, context, method, reply types).
        self.suspended: dict[int, tuple[list[Any], Context, Method | None, tuple | None]] = {}
        self.next_call = 0
        self.verdict_fd = -1
        self.standby: tuple[int, int, int] | None = None  # pre-forked process for the next message
        self.started = False
        self.exiting: list[int] = []  # forks that answered and are exiting
        self.due_before: int | None = None
        self.heartbeat_due: int | None = None

    # -- message loop -------------------------------------------------------------------------------------

    def serve(self) -> None:
        self.conn.send(("ready",))
        while True:
            if self.standby is None and self.started:
                self.standby = self.prefork()
                if self.standby is None:  # this is a standby that has just become the canister
                    continue
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                os._exit(0)
            op = msg[0]
            if op == "exit":
                os._exit(0)
            if op == "start":
                self.conn.send(self.with_info(self.start(*msg[1:])))
                self.started = True
            else:
                self.in_fork(msg)

    def prefork(self) -> tuple[int, int, int] | None:
        """Fork the next message's process ahead of time, while the replica is busy elsewhere: it waits
        for the message on a pipe. Returns (pid, message fd, verdict fd) in this process; in the fork it
        runs the message and returns None only if it took over as the canister."""
        msg_r, msg_w = os.pipe()
        verdict_r, verdict_w = os.pipe()
        sys.stdout.flush()
        pid = os.fork()
        if pid:
            os.close(msg_r)
            os.close(verdict_w)
            return pid, msg_w, verdict_r
        os.close(msg_w)
        os.close(verdict_r)
        with os.fdopen(msg_r, "rb") as f:
            data = f.read()
        if not data:  # not needed after all
            os._exit(0)
        self.standby = None
        self.verdict_fd = verdict_w
        self.child(pickle.loads(data))
        return None

    def use_standby(self, msg: tuple) -> tuple[int, int] | None:
        """Hand `msg` to the pre-forked process; (pid, verdict fd), or None if there is none to use."""
        standby, self.standby = self.standby, None
        if standby is None:
            return None
        pid, msg_w, verdict_r = standby
        try:
            with os.fdopen(msg_w, "wb") as f:
                pickle.dump(msg, f, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError:
            os.close(verdict_r)
            self.exiting.append(pid)
            return None
        return pid, verdict_r

    def drop_standby(self) -> None:
        if self.standby is not None:
            pid, msg_w, verdict_r = self.standby
            os.close(msg_w)
            os.close(verdict_r)
            self.exiting.append(pid)
            self.standby = None

    def take_due_job(self, time: int) -> Any:
        """Before forking, pick the due timer (or heartbeat) and reschedule or drop it in this process, so
        a callback that traps is not retried (as on the IC)."""
        taken = take_due_timer(self.host.timers, time)
        if taken is not None:
            return taken[1].func
        if self.heartbeat_due is not None and self.heartbeat_due <= time:
            self.heartbeat_due = time + HEARTBEAT_NS
            return "heartbeat"
        return None

    def next_due(self) -> int | None:
        dues = [d for d in (self.host.next_timer_due(), self.heartbeat_due) if d is not None]
        return min(dues, default=None)

    def in_fork(self, msg: tuple) -> None:
        ready = None
        if msg[0] == "timer":
            # The timer bookkeeping changes this process, so the standby forked before it is stale.
            self.drop_standby()
            msg = ("timer", msg[1], self.take_due_job(msg[1]))
        else:
            ready = self.use_standby(msg)
        if ready is not None:
            pid, r = ready
        else:
            r, w = os.pipe()
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                self.standby = None
                self.verdict_fd = w
                self.child(msg)
                return
            os.close(w)
        verdict = os.read(r, 1)
        os.close(r)
        if verdict == TAKE_OVER:
            os._exit(0)
        if verdict == EXITING:
            self.exiting.append(pid)  # reaped later: its teardown need not delay the next message
        else:
            os.waitpid(pid, 0)
        self.reap()
        if msg[0] == "resume":
            self.suspended.pop(msg[1], None)
        if verdict != EXITING:
            crashed = trapped(self.canister_id, "the canister process crashed")
            self.conn.send(Done(crashed))

    def reap(self) -> None:
        for pid in list(self.exiting):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.exiting.remove(pid)

    def child(self, msg: tuple) -> None:
        self.exiting.clear()
        self.due_before = self.next_due()
        try:
            result = self.execute(msg)
        except BaseException as e:  # a bug in localnet itself must still answer the replica
            result = Done(trapped(self.canister_id, f"localnet error: {type(e).__name__}: {e}"))
        sys.stdout.flush()
        commit = isinstance(result, CallOut) or result.commit
        if isinstance(result, Done):
            result = self.with_info(result, current=commit)
        if commit:
            os.write(self.verdict_fd, TAKE_OVER)
            os.close(self.verdict_fd)
            self.conn.send(result)
            return
        self.conn.send(result)
        os.write(self.verdict_fd, EXITING)
        os._exit(0)

    def with_info(self, result: Done, current: bool = True) -> Done:
        """Add what the replica keeps about the canister between messages: when its next timer or
        heartbeat is due (as this process has it if it commits, else as the unchanged canister has it)."""
        result.info["next_timer"] = self.next_due() if current else self.due_before
        return result

    # -- execution ----------------------------------------------------------------------------------------

    def import_modules(self) -> None:
        names = {m.module for m in self.iface.methods.values()} | {self.entry.stem}
        for name in sorted(names, key=lambda n: n != self.entry.stem):
            self.modules[name] = importlib.import_module(name)
        for service in self.iface.services:
            cls = next((getattr(m, service) for m in self.modules.values() if hasattr(m, service)), None)
            if isinstance(cls, type):
                self.iface.service_classes[service] = cls

    def function(self, method: Method) -> Any:
        module = self.modules.get(method.module) or self.modules[self.entry.stem]
        fn = getattr(module, method.name, None) or getattr(self.modules[self.entry.stem], method.name, None)
        if fn is None:
            raise Trap(f"method {method.name} not found in module {method.module}")
        return fn

    def start(self, mode: str, pre_writes: dict, arg: bytes, caller: bytes, time: int) -> Done:
        """Install (mode "init") or upgrade/restart (mode "post_upgrade") in this fresh process."""
        self.memory.apply(pre_writes)
        if self.iface.lifecycle("heartbeat") is not None:
            self.heartbeat_due = time + HEARTBEAT_NS
        ctx = Context(mode, mode, caller, time, arg)
        self.host.ctx = ctx
        try:
            self.import_modules()
            method = self.iface.lifecycle(mode)
            if method is not None:
                args = self.decode_args(method, arg)
                self.function(method)(*args)
            elif arg not in (b"", b"DIDL\x00\x00"):
                candid_codec.decode(arg, (), self.iface)
            outcome: Reply | Reject = Reply(b"DIDL\x00\x00")
        except candid_codec.CandidError as e:
            outcome = trapped(self.canister_id, f"invalid {mode} argument: {e}")
        except Trap as e:
            outcome = trapped(self.canister_id, str(e))
        except Exception as e:
            outcome = trapped(self.canister_id, f"{type(e).__name__}: {e}")
        finally:
            self.host.ctx = None
        ok = isinstance(outcome, Reply)
        return Done(outcome, self.memory.take_writes() if ok else {}, ctx.certified_data, ok)

    def decode_args(self, method: Method, arg: bytes) -> list[Any]:
        return candid_codec.decode(arg, method.params, self.iface)

    def execute(self, msg: tuple) -> Done | CallOut:
        op = msg[0]
        if op == "resume":
            _, call_id, result, time = msg
            stack, ctx, method, returns = self.suspended.pop(call_id)
            ctx.time = time
            self.host.ctx = ctx
            return self.run(ctx, method, lambda: self.drive(stack, self.call_result(result, returns)))
        if op == "pre_upgrade":
            _, caller, time = msg
            ctx = Context("pre_upgrade", "pre_upgrade", caller, time)
            method = self.iface.lifecycle("pre_upgrade")
            self.host.ctx = ctx
            res = self.run(ctx, None, lambda: ("return", self.function(method)() if method else None))
            res.commit = False  # the replica applies pre_upgrade's writes with the upgrade
            return res
        if op == "inspect":
            _, name, arg, caller, time = msg
            ctx = Context("inspect_message", name, caller, time, arg)
            method = self.iface.lifecycle("inspect_message")
            self.host.ctx = ctx
            res = self.run(ctx, None, lambda: ("return", self.function(method)() if method else None))
            assert isinstance(res, Done)  # inspect_message cannot await
            accepted = isinstance(res.outcome, Reply) and ctx.accepted
            outcome = res.outcome if isinstance(res.outcome, Reject) else Reply(b"")
            return Done(outcome, info={"accepted": accepted})
        if op == "timer":
            _, time, job = msg
            ctx = Context("update", "heartbeat" if job == "heartbeat" else "<timer>", self.canister_id, time)
            self.host.ctx = ctx
            if job is None:
                return self.run(ctx, None, lambda: ("return", None))

            def fire() -> tuple:
                heartbeat = self.iface.lifecycle("heartbeat")
                value = self.function(heartbeat)() if job == "heartbeat" and heartbeat else job()
                if inspect.isgenerator(value):
                    return self.drive([value], None)
                return ("return", None)

            return self.run(ctx, None, fire)
        _, kind, name, arg, caller, time, extra = msg
        method = self.iface.methods[name]
        ctx = Context(kind, name, caller, time, arg, data_certificate=extra.get("data_certificate"))
        self.host.ctx = ctx

        def call() -> tuple:
            if method.guard:
                verdict = self.modules_guard(method.guard)()
                if isinstance(verdict, dict) and "Err" in verdict:
                    ctx.rejected = str(verdict["Err"])
                    return ("return", None)
            try:
                args = self.decode_args(method, arg)
            except candid_codec.CandidError as e:
                raise Trap(f"invalid argument for {name}: {e}") from None
            value = self.function(method)(*args)
            if inspect.isgenerator(value):
                if kind == "query":
                    raise Trap("a query cannot make inter-canister calls on localnet")
                return self.drive([value], None)
            return ("return", value)

        return self.run(ctx, method, call)

    def modules_guard(self, name: str) -> Any:
        for module in self.modules.values():
            fn = getattr(module, name, None)
            if fn is not None:
                return fn
        raise Trap(f"guard function {name} not found")

    def run(self, ctx: Context, method: Method | None, step: Any) -> Done | CallOut:
        """Run one step of a message and turn its end into a replica message."""
        try:
            result = step()
            if result[0] == "call":
                return self.call_out(ctx, method, result[1], result[2])
            value = result[1]
            if ctx.rejected is not None:
                outcome: Reply | Reject = Reject(4, ctx.rejected, "IC0406")
            elif method is not None and method.manual:
                if ctx.replied is None:
                    outcome = Reject(5, "Canister did not reply to the call", "IC0504")
                else:
                    outcome = Reply(ctx.replied)
            elif ctx.replied is not None:
                outcome = Reply(ctx.replied)
            elif method is not None:
                try:
                    payload = [value] if method.returns else []
                    outcome = Reply(candid_codec.encode(method.returns, payload, self.iface))
                except candid_codec.CandidError as e:
                    raise Trap(f"cannot encode the reply of {method.name}: {e}") from None
            else:
                outcome = Reply(b"DIDL\x00\x00")
        except Trap as e:
            return Done(trapped(self.canister_id, str(e)))
        except Exception as e:
            return Done(trapped(self.canister_id, f"{type(e).__name__}: {e}"))
        finally:
            self.host.ctx = None
        commit = ctx.kind == "update"
        writes = self.memory.take_writes() if commit or ctx.kind == "pre_upgrade" else {}
        return Done(outcome, writes, ctx.certified_data if commit else None, commit)

    # -- inter-canister calls -----------------------------------------------------------------------------

    def drive(self, stack: list[Any], send: Any) -> tuple:
        """Advance the async method's generators until it returns or awaits a call."""
        while True:
            gen = stack[-1]
            try:
                yielded = gen.send(send)
            except StopIteration as stop:
                stack.pop()
                if not stack:
                    return ("return", stop.value)
                send = stop.value
                continue
            if inspect.isgenerator(yielded):
                stack.append(yielded)
                send = None
            elif isinstance(yielded, AsyncInfo):
                return ("call", stack, yielded)
            else:
                raise Trap(
                    f"an async method may only yield calls or generators, not {type(yielded).__name__}"
                )

    def call_out(self, ctx: Context, method: Method | None, stack: list[Any], info: AsyncInfo) -> CallOut:
        target, callee_method, arg, returns = outgoing_call(self.iface, info.name, info.args)
        call_id = self.next_call
        self.next_call += 1
        self.suspended[call_id] = (stack, ctx, method, returns)
        writes = self.memory.take_writes()
        certified, ctx.certified_data = ctx.certified_data, None
        return CallOut(writes, certified, target, callee_method, arg, call_id)

    def call_result(self, result: tuple, returns: tuple | None) -> CallResult:
        ok, err = call_outcome(self.iface, self.host.ctx, result, returns)  # type: ignore[arg-type]
        return CallResult(ok, err)  # type: ignore[arg-type]


def outgoing_call(iface: Interface, name: str, args: list[Any]) -> tuple[bytes, str, bytes, tuple | None]:
    """(callee principal bytes, method, Candid argument, reply types or None for raw) of a call that an
    async method yields (Kybra's AsyncInfo `name` and `args`)."""
    if name in ("call", "call_with_payment", "call_with_payment128"):
        target, qualname, *rest = args
        if name != "call":
            rest = rest[:-1]
        service, _, callee_method = qualname.rpartition(".")
        decl = iface.services.get(service, {}).get(callee_method)
        if decl is None:
            raise Trap(f"unknown service method {qualname}")
        try:
            arg = candid_codec.encode(decl.params, list(rest), iface)
        except candid_codec.CandidError as e:
            raise Trap(f"cannot encode the arguments of {qualname}: {e}") from None
        return candid_codec.principal_bytes(target), callee_method, bytes(arg), decl.returns
    if name in ("call_raw", "call_raw128"):
        target, callee_method, arg, _payment = args
        return candid_codec.principal_bytes(target), callee_method, bytes(arg), None
    raise Trap(f"{name} is not supported by localnet")


def call_outcome(
    iface: Interface, ctx: Context, result: tuple, returns: tuple | None
) -> tuple[Any, str | None]:
    """The (Ok, Err) of a CallResult from the replica's answer to a call; a reject also sets the
    message's reject code and message (`ic.reject_code()`)."""
    if result[0] == "ok":
        if returns is None:
            return result[1], None
        try:
            values = candid_codec.decode(result[1], returns, iface)
        except candid_codec.CandidError as e:
            return None, f"cannot decode the reply: {e}"
        return (values[0] if values else None), None
    _, code, message = result
    ctx.reject_code = code
    ctx.reject_message = message
    return None, f"Rejection code {code}, {message}"


def _become_subreaper() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def reap_until_done(fd: int, group: int) -> None:
    """The reaper's loop: reap forks as they end; if the replica goes away (its end of the socket
    closes) or asks by SIGTERM, kill the whole chain of forks, even one stuck in an endless loop."""

    def stop(signum: int = 0, frame: Any = None) -> None:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)

    signal.signal(signal.SIGTERM, stop)
    poller = select.poll()
    poller.register(fd, select.POLLRDHUP)
    while True:
        try:
            if poller.poll(REAP_POLL_MS):
                stop()
                poller.unregister(fd)
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def main() -> None:
    serve_canister(Worker)


def serve_canister(worker_class) -> None:
    """This first process only reaps: it is the subreaper of the canister's chain of forks, which runs
    in its own process group so that it can end all of it and still reap every one. Its child builds
    `worker_class(conn)` (one per runtime) and serves the replica's messages."""
    fd = int(sys.argv[1])
    _become_subreaper()
    pid = os.fork()
    if pid:
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        reap_until_done(fd, pid)
        os._exit(0)
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    conn = Connection(fd)
    try:
        worker = worker_class(conn)
    except Exception as e:
        conn.send(("error", f"{type(e).__name__}: {e}"))
        os._exit(1)
    worker.serve()


if __name__ == "__main__":
    main()
