"""The Kybra host's replica: deploys canisters from Python source and executes their messages.

Each canister runs in its own process (localnet/canister_process.py), so canisters share no module
state; the replica sends it one message at a time, commits each message's stable-memory writes to the
state directory's SQLite database, and only then returns the outcome. See docs/localnet-runtime.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ic.principal import Principal

from localnet import process_messages as pm
from localnet import rustpython_runtime, wasm_bundle
from localnet.candid_types import Interface, did_text
from localnet.management import ManagementError, SystemCanisters, is_system
from localnet.management import method_kind as system_method_kind
from localnet.operator import OperatorError
from localnet.outcome import Outcome, Reject, Reply
from localnet.process_messages import CallOut, Done
from localnet.source_interface import SourceError, read_interface
from localnet.state_store import CanisterRecord, StateStore

ANONYMOUS = b"\x04"
BOOT = Path(__file__).resolve().parent / "canister_boot.py"
EMPTY_ARG = b"DIDL\x00\x00"
RUNTIMES = ("cpython", "rustpython")  # where canister code runs: CPython, or Kybra's RustPython in wasm
MESSAGE_TIMEOUT = 120.0  # seconds of wall clock a message may run before the canister is reset
START_TIMEOUT = 120.0
STOP_TIMEOUT = 5.0
MAX_CALL_DEPTH = 40  # nested inter-canister calls in one message tree
TIMER_POLL = 0.02  # seconds between checks for due timers (only while some canister has one)


class DeployError(RuntimeError):
    """Installing or upgrading a canister failed; nothing was changed."""


def text_id(canister_id: bytes) -> str:
    return Principal(bytes=canister_id).to_str()


def module_hash(files: list[Path], root: Path) -> bytes:
    """SHA-256 over the canister's source bundle: each file's path relative to the entry dir and content."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda p: str(p.relative_to(root)) if p.is_relative_to(root) else str(p)):
        rel = str(f.relative_to(root)) if f.is_relative_to(root) else str(f)
        data = f.read_bytes()
        h.update(len(rel).to_bytes(4, "big") + rel.encode() + len(data).to_bytes(8, "big") + data)
    return h.digest()


class _Process:
    """A running canister process and the connection to it."""

    def __init__(
        self,
        canister_id: bytes,
        entry: Path,
        db: Path,
        log: Path,
        runtime: str = "cpython",
        fresh: bool = False,
    ):
        parent, child = socket.socketpair()
        self.log = open(log, "ab")
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        self.popen = subprocess.Popen(
            [sys.executable, str(BOOT), str(child.fileno()), *([runtime] if runtime != "cpython" else [])],
            pass_fds=[child.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
            env=env,
        )
        child.close()
        self.conn = Connection(parent.detach())
        self.conn.send({"canister_id": canister_id, "entry": str(entry), "db": str(db), "fresh": fresh})
        first = self.recv(START_TIMEOUT)
        if first[0] != "ready":
            self.kill()
            raise DeployError(f"canister {text_id(canister_id)} failed to start: {first[1]}")

    def recv(self, timeout: float) -> Any:
        if not self.conn.poll(timeout):
            raise TimeoutError
        return self.conn.recv()

    def send(self, msg: Any) -> None:
        self.conn.send(msg)

    def stop(self) -> None:
        """Ask the canister to exit; its reaper process then ends once every fork is reaped."""
        try:
            self.conn.send(pm.EXIT)
            self.popen.wait(STOP_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        """End the canister at once: SIGTERM makes the reaper kill the forks and reap them all."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.conn.close()
        self.log.close()


@dataclass
class _Canister:
    record: CanisterRecord
    iface: Interface | None
    did: str
    process: _Process | None
    error: str = ""
    next_timer: int | None = None  # when the canister's earliest timer (ic.set_timer) is due, ns
    status: str = "running"  # or "stopped" (management canister stop_canister / start_canister)
    version: int = 0  # changes of code or settings, as canister_status reports

    @property
    def empty(self) -> bool:
        """Created by the management canister but no module installed yet (or uninstalled)."""
        return not self.record.entry


def _lock_state_dir(state_dir: Path) -> Any:
    """Hold an exclusive lock on the state directory: two replicas on one state would diverge."""
    handle = open(state_dir / "replica.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise OperatorError(
            f"state directory {state_dir} is in use by another localnet replica (stop it, or use --state DIR)"
        ) from None
    return handle


def _map_sizes(iface: Interface) -> dict[int, tuple[int, int]]:
    return {m: (d.max_key_size, d.max_value_size) for m, d in iface.stable_maps.items()}


def _check_map_sizes(iface: Interface, stored: dict[int, tuple[int, int]]) -> None:
    """Max sizes are fixed when a map is first deployed; later code may not declare larger ones."""
    for mid, decl in iface.stable_maps.items():
        if mid in stored:
            key, value = stored[mid]
            if decl.max_key_size > key or decl.max_value_size > value:
                raise DeployError(
                    f"StableBTreeMap memory_id {mid} was created with max_key_size={key}, "
                    f"max_value_size={value}; the code declares {decl.max_key_size}, {decl.max_value_size}: "
                    "the sizes are fixed at first deploy and cannot grow"
                )


def _failed(reject: Reject) -> Done:
    return Done(reject)


class Replica:
    """Hosts Kybra canisters; the HTTP interface calls it (the seam in docs/architecture.md)."""

    def __init__(
        self,
        state_dir: str | Path | None = None,
        message_timeout: float = MESSAGE_TIMEOUT,
        runtime: str = "cpython",
    ):
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {runtime!r}: one of {', '.join(RUNTIMES)}")
        if runtime == "rustpython":
            rustpython_runtime.prepare()
        self.runtime = runtime
        self._tmp = tempfile.TemporaryDirectory(prefix="localnet-") if state_dir is None else None
        self.state_dir = Path(self._tmp.name if self._tmp else state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "logs").mkdir(exist_ok=True)
        self.db_path = self.state_dir / "localnet.sqlite3"
        self._lock_file = _lock_state_dir(self.state_dir)
        self.store = StateStore(self.db_path)
        self._lock = threading.RLock()
        self._clock_lock = threading.Lock()
        self._last_time = self.store.last_time()
        self._by_id: dict[bytes, _Canister] = {}
        self._call_stack: list[bytes] = []  # canisters with a message in progress, outermost first
        self._closed = False
        self._timer_thread: threading.Thread | None = None
        self.message_timeout = message_timeout
        self._manual_time: int | None = None  # set_time: the clock moves only when told to
        self.subnet_id = b""  # the subnet's principal, set by the HTTP side (get_default_subnets answers it)
        self.system = SystemCanisters(self)
        stopped = self.store.statuses()
        for record in self.store.canisters():
            self._by_id[record.id] = self._reload(record)
            self._by_id[record.id].status = stopped.get(record.id, "running")

    # -- the seam -----------------------------------------------------------------------------------------

    def deploy(
        self,
        name: str,
        entry: str | Path,
        init_arg: bytes = EMPTY_ARG,
        controllers: list[bytes] | None = None,
    ) -> bytes:
        """Install `entry` as canister `name` if new, else upgrade it; returns the canister id.

        An upgrade given no argument (the default, empty Candid) passes the last install/upgrade
        argument again to `post_upgrade`, so re-deploying from the command line needs no argument.
        """
        entry = Path(entry).resolve()
        try:
            iface, files = read_interface(entry)
        except SourceError as e:
            raise DeployError(str(e)) from e
        with self._lock:
            if self._closed:
                raise DeployError("the replica is closed")
            existing = next((c for c in self._by_id.values() if c.record.name == name), None)
            if existing is None:
                return self._install(name, entry, iface, files, init_arg, controllers or [])
            self._upgrade(existing, entry, iface, files, init_arg, controllers)
            return existing.record.id

    def canisters(self) -> dict[str, bytes]:
        return {c.record.name: cid for cid, c in list(self._by_id.items())}

    def method_kind(self, canister_id: bytes, method: str) -> str | None:
        if is_system(canister_id):
            return system_method_kind(canister_id, method)
        c = self._by_id.get(canister_id)
        if c is None or c.iface is None:
            return None
        m = c.iface.methods.get(method)
        return m.kind if m is not None and m.kind in ("query", "update") else None

    def query(
        self,
        canister_id: bytes,
        method: str,
        arg: bytes,
        sender: bytes,
        data_certificate: bytes | None = None,
    ) -> Outcome:
        with self._lock:
            if is_system(canister_id) and self.method_kind(canister_id, method) == "query":
                return self.system.call(canister_id, method, arg, sender)
            c, err = self._callable(canister_id, method, need_query=True)
            if err:
                return err
            return self._execute(
                c,
                pm.execute(
                    "query", method, arg, sender, self._tick(), {"data_certificate": data_certificate}
                ),
            )

    def update(self, canister_id: bytes, method: str, arg: bytes, sender: bytes) -> Outcome:
        with self._lock:
            if is_system(canister_id):
                return self.system.call(canister_id, method, arg, sender)
            c, err = self._callable(canister_id, method)
            if err:
                return err
            if c.iface.lifecycle("inspect_message") is not None:
                verdict = self._request(c, pm.inspect(method, arg, sender, self._tick()))
                if isinstance(verdict, Reject):
                    return verdict
                if not verdict:
                    return Reject(4, f"Canister {text_id(canister_id)} rejected the message", "IC0406")
            return self._execute(c, pm.execute("update", method, arg, sender, self._tick()))

    def metadata(self, canister_id: bytes, name: str) -> bytes | None:
        c = self._by_id.get(canister_id)
        if c is None or name != "candid:service" or not c.did:
            return None
        return c.did.encode()

    def module_hash(self, canister_id: bytes) -> bytes | None:
        c = self._by_id.get(canister_id)
        return c.record.module_hash if c and not c.empty else None

    def controllers(self, canister_id: bytes) -> list[bytes]:
        c = self._by_id.get(canister_id)
        return list(c.record.controllers) if c else []

    def time_ns(self) -> int:
        return self._tick()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for c in self._by_id.values():
                if c.process is not None:
                    c.process.stop()
                    c.process = None
            self.store.save_time(self._last_time)
            self.store.close()
            self._lock_file.close()
        if self._timer_thread is not None:
            self._timer_thread.join(5)
        if self._tmp is not None:
            self._tmp.cleanup()

    # -- extensions used by the HTTP side and tools ------------------------------------------------------

    def certified_data(self, canister_id: bytes) -> bytes:
        """The canister's certified data (set with ic.set_certified_data), for read_state certificates."""
        c = self._by_id.get(canister_id)
        return c.record.certified_data if c else b""

    def candid(self, canister_id: bytes) -> str | None:
        c = self._by_id.get(canister_id)
        return c.did if c else None

    def interface(self, canister_id: bytes) -> Interface | None:
        """The installed code's interface (methods and Candid types), None without a module."""
        c = self._by_id.get(canister_id)
        return c.iface if c else None

    # -- canister operations of the management canister (localnet/management.py) ------------------------

    def is_canister(self, principal: bytes) -> bool:
        return principal in self._by_id

    def create_empty(self, controllers: list[bytes]) -> bytes:
        """A new canister with no module (create_canister); its name is its principal text."""
        with self._lock:
            cid = self.store.next_id()
            record = CanisterRecord(text_id(cid), cid, "", b"", controllers, EMPTY_ARG)
            self.store.commit(cid, {}, None, record, self._last_time)
            self._by_id[cid] = _Canister(record, None, "", None, "the canister has no module")
            return cid

    def canister_info(self, canister_id: bytes) -> dict | None:
        c = self._by_id.get(canister_id)
        if c is None:
            return None
        return {
            "controllers": list(c.record.controllers),
            "status": c.status,
            "module_hash": None if c.empty else c.record.module_hash,
            "memory_size": self.store.stable_size(canister_id),
            "version": c.version,
        }

    def install_module(self, canister_id: bytes, mode: str, module: bytes, arg: bytes, caller: bytes) -> None:
        """install_code: install (into an empty canister), reinstall (memory wiped) or upgrade a module
        built by localnet.wasm_bundle; raises ManagementError with the IC's error code."""
        with self._lock:
            c = self._by_id[canister_id]
            where = f"Canister {text_id(canister_id)}"
            try:
                bundle = wasm_bundle.read(module)
            except wasm_bundle.BundleError as e:
                raise ManagementError(5, f"{where}: invalid wasm module: {e}", "IC0505") from None
            digest = hashlib.sha256(wasm_bundle.decompressed(module)).digest()
            entry = wasm_bundle.extract(bundle, self._code_dir(canister_id) / digest.hex())
            try:
                self._install_module(c, mode, entry, digest, arg, caller, where)
            finally:
                self._prune_code(canister_id)

    def _install_module(
        self, c: _Canister, mode: str, entry: Path, digest: bytes, arg: bytes, caller: bytes, where: str
    ) -> None:
        canister_id = c.record.id
        try:
            iface, files = read_interface(entry)
        except SourceError as e:
            raise ManagementError(5, f"{where}: invalid wasm module: {e}", "IC0505") from None
        if mode == "install" and not c.empty:
            raise ManagementError(
                5,
                f"{where} cannot be installed because the canister is not empty. "
                "Try installing with mode='reinstall' instead.",
                "IC0538",
            )
        if mode == "upgrade" and c.empty:
            raise ManagementError(
                5, f"{where}: attempted to upgrade a canister that contains no Wasm module.", "IC0537"
            )
        try:
            if mode == "upgrade":
                self._upgrade(c, entry, iface, files, arg, None, caller=caller, module=digest)
            else:
                self._install(
                    c.record.name,
                    entry,
                    iface,
                    files,
                    arg,
                    c.record.controllers,
                    cid=canister_id,
                    module=digest,
                    caller=caller,
                    reset=True,
                )
        except DeployError as e:
            raise ManagementError(5, str(e), "IC0503") from None
        self._by_id[canister_id].version += 1

    def _code_dir(self, canister_id: bytes) -> Path:
        return self.state_dir / "code" / text_id(canister_id)

    def _prune_code(self, canister_id: bytes) -> None:
        """Keep only the installed version of a canister's extracted sources (none once deleted)."""
        current = self._by_id.get(canister_id)
        keep = Path(current.record.entry).parent if current is not None and current.record.entry else None
        folder = self._code_dir(canister_id)
        if folder.is_dir():
            for version in folder.iterdir():
                if keep is None or not keep.is_relative_to(version):
                    shutil.rmtree(version, ignore_errors=True)

    def set_running(self, canister_id: bytes, running: bool) -> None:
        with self._lock:
            c = self._by_id[canister_id]
            c.status = "running" if running else "stopped"
            c.version += 1
            self.store.set_status(canister_id, c.status)

    def set_controllers(self, canister_id: bytes, controllers: list[bytes]) -> None:
        with self._lock:
            c = self._by_id[canister_id]
            c.record.controllers = list(controllers)
            c.version += 1
            self.store.commit(canister_id, {}, None, c.record, self._last_time)

    def uninstall(self, canister_id: bytes) -> None:
        """uninstall_code: the module and all memory go; the canister and its controllers stay."""
        with self._lock:
            c = self._by_id[canister_id]
            if c.process is not None:
                c.process.stop()
            c.record.entry, c.record.module_hash, c.record.certified_data = "", b"", b""
            self.store.commit(canister_id, {}, None, c.record, self._last_time, reset=True)
            self._prune_code(canister_id)
            c.iface, c.did, c.process, c.error, c.next_timer = (
                None,
                "",
                None,
                "the canister has no module",
                None,
            )
            c.version += 1

    def delete_canister(self, canister_id: bytes) -> None:
        with self._lock:
            c = self._by_id.pop(canister_id)
            if c.process is not None:
                c.process.stop()
            self.store.delete_canister(canister_id)
            self._prune_code(canister_id)

    def log_path(self, canister_id: bytes) -> Path:
        return self.state_dir / "logs" / f"{text_id(canister_id)}.log"

    def __enter__(self) -> Replica:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------------------

    def _now(self) -> int:
        """The replica's clock source: the wall clock, or the time set with set_time/advance_time."""
        return self._manual_time if self._manual_time is not None else time.time_ns()

    def _tick(self) -> int:
        with self._clock_lock:  # not the message lock: reading the clock never waits for a message
            self._last_time = max(self._now(), self._last_time + 1)
            return self._last_time

    # -- time under the caller's control (tests: no sleeping, timers fire deterministically) ------------

    def set_time(self, time_ns: int) -> None:
        """Stop following the wall clock: from now on the replica's time is `time_ns` (it cannot go back)
        and moves only with set_time/advance_time (each message still sees a strictly later time).
        Timers no longer fire by themselves: advance_time and tick run the due ones."""
        with self._lock:
            if time_ns < self._last_time:
                raise ValueError(f"time cannot go back: {time_ns} < {self._last_time} (ns)")
            self._manual_time = time_ns

    def advance_time(self, nanoseconds: int) -> int:
        """Move the (manual) clock forward and run every timer and heartbeat now due, in due order.
        Returns the number of timer messages executed."""
        if nanoseconds < 0:
            raise ValueError("advance_time takes a non-negative number of nanoseconds")
        with self._lock:
            start = max(self._now(), self._last_time)  # from the time the last message saw
            self.set_time(start + nanoseconds)
            return self.tick()

    def tick(self, limit: int = 10_000) -> int:
        """Run the timers (and heartbeats) due at the current time, earliest first, each as its own
        message; a timer that schedules another already due runs too (at most `limit` messages)."""
        ran = 0
        with self._lock:
            while ran < limit:
                now = self._now()
                due = [c for c in self._by_id.values() if c.process is not None and c.next_timer is not None]
                due = [c for c in due if c.next_timer <= now]
                if not due:
                    return ran
                c = min(due, key=lambda x: x.next_timer)
                self._raw(c, pm.timer(self._tick()))
                ran += 1
        return ran

    def unavailable(self, canister_id: bytes) -> Reject | None:
        """Why a hosted canister cannot execute any message now (no module, stopped), else None."""
        c = self._by_id.get(canister_id)
        if c is None:
            return None
        if c.empty:
            what = "Attempted to execute a message, but the canister contains no Wasm module."
            return Reject(5, f"Canister {text_id(canister_id)}: {what}", "IC0537")
        if c.status != "running":
            return Reject(5, f"Canister {text_id(canister_id)} is stopped", "IC0508")
        return None

    def _callable(
        self, canister_id: bytes, method: str, need_query: bool = False
    ) -> tuple[Any, Reject | None]:
        if self._closed:
            return None, Reject(2, "the replica is shut down", "IC0204")
        c = self._by_id.get(canister_id)
        if c is None:
            return None, Reject(3, f"Canister {text_id(canister_id)} not found", "IC0301")
        refused = self.unavailable(canister_id)
        if refused is not None:
            return None, refused
        if c.process is None or c.iface is None:
            return None, Reject(5, f"Canister {text_id(canister_id)} is not running: {c.error}", "IC0508")
        kind = self.method_kind(canister_id, method)
        if kind is None or (need_query and kind != "query"):
            what = "query method" if need_query else "update method"
            return None, Reject(3, f"Canister {text_id(canister_id)} has no {what} '{method}'", "IC0302")
        if len(self._call_stack) >= MAX_CALL_DEPTH:
            return None, Reject(
                2, f"call depth exceeds {MAX_CALL_DEPTH} nested inter-canister calls", "IC0207"
            )
        return c, None

    def _start(self, record: CanisterRecord, fresh: bool = False) -> _Process:
        log = self.log_path(record.id)
        return _Process(record.id, Path(record.entry), self.db_path, log, self.runtime, fresh)

    def _install(
        self,
        name: str,
        entry: Path,
        iface: Interface,
        files: list[Path],
        init_arg: bytes,
        controllers: list[bytes],
        cid: bytes | None = None,
        module: bytes | None = None,
        caller: bytes | None = None,
        reset: bool = False,
    ) -> bytes:
        """Install code into a new canister, or (`cid`) into an existing one whose memory is replaced;
        `module` is the installed module's hash, `caller` the installer (default: first controller)."""
        cid = cid or self.store.next_id()
        record = CanisterRecord(
            name, cid, str(entry), module or module_hash(files, entry.parent), controllers, init_arg
        )
        proc = self._start(record, fresh=reset)
        installer = caller or (controllers[0] if controllers else ANONYMOUS)
        outcome, writes, certified, timer = self._lifecycle(
            proc, pm.start("init", {}, init_arg, installer, self._tick())
        )
        if isinstance(outcome, Reject):
            proc.kill()
            raise DeployError(f"installing {name}: {outcome.message}")
        self.store.commit(cid, writes, certified, record, self._last_time, _map_sizes(iface), reset=reset)
        record.certified_data = certified or b""
        old = self._by_id.get(cid)
        fresh = _Canister(record, iface, did_text(iface), proc)
        if old is not None:
            if old.process is not None:
                old.process.stop()
            fresh.status, fresh.version = old.status, old.version
        self._by_id[cid] = fresh
        self._set_timer(fresh, timer)
        return cid

    def _upgrade(
        self,
        c: _Canister,
        entry: Path,
        iface: Interface,
        files: list[Path],
        init_arg: bytes,
        controllers: list[bytes] | None,
        caller: bytes | None = None,
        module: bytes | None = None,
    ) -> None:
        old = c.record
        if init_arg == EMPTY_ARG and caller is None:
            init_arg = old.init_arg
        record = CanisterRecord(
            old.name,
            old.id,
            str(entry),
            module or module_hash(files, entry.parent),
            old.controllers if controllers is None else controllers,
            init_arg,
            old.certified_data,
        )
        caller = caller or (record.controllers[0] if record.controllers else ANONYMOUS)
        _check_map_sizes(iface, self.store.map_sizes(old.id))
        pre_writes: dict = {}
        if c.process is not None:
            result = self._raw(c, pm.pre_upgrade(caller, self._tick()))
            if isinstance(result.outcome, Reject):
                raise DeployError(f"upgrading {old.name}: pre_upgrade failed: {result.outcome.message}")
            pre_writes = result.writes
        proc = self._start(record)
        outcome, writes, certified, timer = self._lifecycle(
            proc, pm.start("post_upgrade", pre_writes, init_arg, caller, self._tick())
        )
        if isinstance(outcome, Reject):
            proc.kill()
            raise DeployError(f"upgrading {old.name}: {outcome.message}")
        self.store.commit(old.id, writes, certified, record, self._last_time, _map_sizes(iface))
        if certified is not None:
            record.certified_data = certified
        if c.process is not None:
            c.process.stop()
        c.record, c.iface, c.did, c.process, c.error = record, iface, did_text(iface), proc, ""
        self._set_timer(c, timer)

    def _reload(self, record: CanisterRecord) -> _Canister:
        """After a restart: re-import the code and run post_upgrade, as an upgrade to the same code would."""
        if not record.entry:
            return _Canister(record, None, "", None, "the canister has no module")
        try:
            iface, _ = read_interface(record.entry)
            _check_map_sizes(iface, self.store.map_sizes(record.id))
            proc = self._start(record)
        except (SourceError, DeployError) as e:
            return _Canister(record, None, "", None, str(e))
        caller = record.controllers[0] if record.controllers else ANONYMOUS
        outcome, writes, certified, timer = self._lifecycle(
            proc, pm.start("post_upgrade", {}, record.init_arg, caller, self._tick())
        )
        if isinstance(outcome, Reject):
            proc.kill()
            return _Canister(record, iface, did_text(iface), None, outcome.message)
        self.store.commit(record.id, writes, certified, time_ns=self._last_time)
        if certified is not None:
            record.certified_data = certified
        fresh = _Canister(record, iface, did_text(iface), proc)
        self._set_timer(fresh, timer)
        return fresh

    def _lifecycle(self, proc: _Process, msg: tuple) -> tuple[Outcome, dict, bytes | None, int | None]:
        """Run init or post_upgrade in a fresh process: outcome, writes, certified data, next timer."""
        proc.send(msg)
        try:
            resp = proc.recv(max(self.message_timeout, START_TIMEOUT))
        except (TimeoutError, EOFError, OSError):
            return Reject(5, "the canister process did not answer", "IC0502"), {}, None, None
        return resp.outcome, resp.writes, resp.certified, resp.info.get("next_timer")

    def _revive(self, c: _Canister, why: str) -> None:
        """The process died or hung: restart it from committed state (heap lost, as after a restart)."""
        if c.process is not None:
            c.process.kill()
            c.process = None
        fresh = self._reload(c.record)
        c.process, c.error, c.next_timer = fresh.process, fresh.error or why, fresh.next_timer

    def _raw(self, c: _Canister, msg: tuple) -> Done:
        """Send one message and serve its inter-canister calls; commits what it commits."""
        proc = c.process
        assert proc is not None
        cid = c.record.id
        self._call_stack.append(cid)
        try:
            proc.send(msg)
            while True:
                try:
                    resp = proc.recv(self.message_timeout)
                except TimeoutError:
                    self._revive(c, "message timed out")
                    limit = f"exceeded the time limit of {self.message_timeout:g} s for one message"
                    return _failed(Reject(5, f"Canister {text_id(cid)} {limit}", "IC0522"))
                except (EOFError, OSError):
                    self._revive(c, "process died")
                    died = f"Canister {text_id(cid)} trapped: the canister process died"
                    return _failed(Reject(5, died, "IC0502"))
                if isinstance(resp, CallOut):
                    self._commit(c, resp.writes, resp.certified)
                    # While it awaits, the canister may execute other messages (also calls back into
                    # it), as on the IC; its process is idle until it gets the resume.
                    result = self._inter_canister(cid, resp.callee, resp.method, resp.arg)
                    if c.process is None:
                        return _failed(
                            Reject(5, f"Canister {text_id(cid)} was reset while awaiting", "IC0502")
                        )
                    c.process.send(pm.resume(resp.call_id, result, self._tick()))
                    continue
                if resp.commit:
                    self._commit(c, resp.writes, resp.certified)
                if "next_timer" in resp.info:
                    self._set_timer(c, resp.info["next_timer"])
                return resp
        finally:
            self._call_stack.pop()

    # -- timers -------------------------------------------------------------------------------------------

    def _set_timer(self, c: _Canister, due: int | None) -> None:
        c.next_timer = due
        if due is not None and self._timer_thread is None and not self._closed:
            self._timer_thread = threading.Thread(
                target=self._timer_loop, name="localnet-timers", daemon=True
            )
            self._timer_thread.start()

    def _timer_loop(self) -> None:
        """Fire due timers, each as its own update message from the canister to itself."""
        while not self._closed:
            time.sleep(TIMER_POLL)
            if self._manual_time is not None:
                continue  # under set_time, timers run in advance_time/tick only
            with self._lock:
                now = self._now()
                for c in list(self._by_id.values()):
                    if self._closed:
                        return
                    due = c.next_timer is not None and c.next_timer <= now
                    if due and c.process is not None:
                        self._raw(c, pm.timer(self._tick()))

    def _commit(self, c: _Canister, writes: dict, certified: bytes | None) -> None:
        if writes or certified is not None:
            self.store.commit(c.record.id, writes, certified, time_ns=self._last_time)
        if certified is not None:
            c.record.certified_data = certified

    def _execute(self, c: _Canister, msg: tuple) -> Outcome:
        return self._raw(c, msg).outcome

    def _request(self, c: _Canister, msg: tuple) -> Any:
        resp = self._raw(c, msg)
        if isinstance(resp.outcome, Reject):
            return resp.outcome
        return resp.info.get("accepted", True)

    def _inter_canister(self, caller: bytes, callee: bytes, method: str, arg: bytes) -> tuple:
        if is_system(callee):
            outcome = self.system.call(callee, method, arg, caller)
            return (
                ("ok", outcome.arg) if isinstance(outcome, Reply) else ("err", outcome.code, outcome.message)
            )
        c, err = self._callable(callee, method)
        if err is not None:
            return ("err", err.code, err.message)
        outcome = self._execute(c, pm.execute("update", method, arg, caller, self._tick()))
        if isinstance(outcome, Reply):
            return ("ok", outcome.arg)
        return ("err", outcome.code, outcome.message)
