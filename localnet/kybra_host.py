"""The `_kybra_ic` object: what Kybra's `ic` API and `StableBTreeMap` call under CPython.

One instance per canister process, installed as `builtins._kybra_ic`. The replica sets the message
context (`Context`) before running a method; everything a method observes (caller, time, method name)
comes from it, and everything it changes that must survive (stable memory, certified data, reply or
reject) is recorded on it or on the StableMemory.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from typing import Any, NoReturn

from kybra import Principal

from localnet import candid_codec
from localnet.candid_types import Interface
from localnet.source_interface import REJECTION_CODES
from localnet.stable_memory import StableMemory, StableTrap

CYCLES_BALANCE = 3_000_000_000_000  # what a fresh local canister holds; localnet charges no cycles
# CPU ns of the message's process to Kybra-RustPython wasm instructions, for performance_counter under
# CPython: a median of 17 to 20 per call over every endpoint in benchmarks/canister_wasm.py
# (docs/canister.md).
# CPU time, not the wall clock, so a loaded machine does not make a message look more expensive.
INSTRUCTIONS_PER_NS = 20
STABLE32_LIMIT = 65536  # pages addressable by the 32-bit stable API (4 GiB)
STABLE64_LIMIT = 6 * 1024 * 1024  # pages (384 GiB): comfortably under the IC's limit


class Trap(BaseException):
    """`ic.trap` or a host-detected trap: ends the message, rolls back its changes.

    A BaseException so ordinary `except Exception` in canister code does not swallow it (a trap
    cannot be caught on the IC).
    """


@dataclass
class Context:
    """The message being executed."""

    kind: str  # query | update | init | post_upgrade | pre_upgrade | inspect_message | heartbeat | timer
    method: str
    caller: bytes
    time: int
    arg: bytes = b""
    replied: bytes | None = None
    rejected: str | None = None
    accepted: bool = False
    certified_data: bytes | None = None
    data_certificate: bytes | None = None
    reject_code: int = 0
    reject_message: str = ""
    started_ns: int = field(default_factory=_time.process_time_ns)


@dataclass
class Timer:
    due: int
    interval: int | None
    func: Any


class KybraHost:
    """Implements every `_kybra_ic.<name>` that kybra/__init__.py calls."""

    def __init__(self, iface: Interface, memory: StableMemory, canister_id: bytes, log: Any):
        self.iface = iface
        self.memory = memory
        self.canister_id = canister_id
        self.log = log
        self.ctx: Context | None = None
        self.timers: dict[int, Timer] = {}
        self.next_timer_id = 1

    def _c(self) -> Context:
        if self.ctx is None:
            raise Trap("the ic API is only available while a message executes")
        return self.ctx

    def _replicated(self, what: str) -> Context:
        c = self._c()
        if c.kind == "query":
            raise Trap(f"{what} cannot be executed in non replicated query mode")
        return c

    # -- message ------------------------------------------------------------------------------------------

    def caller(self) -> Principal:
        return Principal(bytes=self._c().caller)

    def id(self) -> Principal:
        return Principal(bytes=self.canister_id)

    def time(self) -> int:
        return self._c().time

    def method_name(self) -> str:
        return self._c().method

    def arg_data_raw(self) -> bytes:
        return self._c().arg

    def arg_data_raw_size(self) -> int:
        return len(self._c().arg)

    def accept_message(self) -> None:
        c = self._c()
        if c.kind != "inspect_message":
            raise Trap("accept_message can only be called in inspect_message")
        c.accepted = True

    def trap(self, message: str) -> NoReturn:
        raise Trap(str(message))

    def print(self, text: str) -> None:
        c = self.ctx
        stamp = c.time if c else _time.time_ns()
        self.log.write(f"{stamp} {text}\n")
        self.log.flush()

    def reject(self, message: str) -> None:
        c = self._c()
        if c.replied is not None or c.rejected is not None:
            raise Trap("reply or reject already called")
        c.rejected = str(message)

    def reply_raw(self, data: bytes) -> None:
        c = self._c()
        if c.replied is not None or c.rejected is not None:
            raise Trap("reply or reject already called")
        c.replied = bytes(data)

    def reply(self, function_name: str, value: Any) -> None:
        # Kybra names the method by the outermost Python frame; here that is the host's own frame, so
        # the method being executed is taken from the message context instead.
        method = self.iface.methods.get(self._c().method)
        if method is None:
            raise Trap(f"ic.reply outside a canister method ({function_name})")
        try:
            self.reply_raw(candid_codec.encode(method.returns, [value] if method.returns else [], self.iface))
        except candid_codec.CandidError as e:
            raise Trap(f"ic.reply: {e}") from None

    def reject_code(self) -> dict:
        code = self._c().reject_code
        return {REJECTION_CODES[min(code, len(REJECTION_CODES) - 1)]: None}

    def reject_message(self) -> str:
        return self._c().reject_message

    def performance_counter(self, counter_type: int) -> int:
        return (_time.process_time_ns() - self._c().started_ns) * INSTRUCTIONS_PER_NS

    # -- cycles (not charged on localnet) -----------------------------------------------------------------

    def canister_balance(self) -> int:
        return CYCLES_BALANCE

    def canister_balance128(self) -> int:
        return CYCLES_BALANCE

    def msg_cycles_available(self) -> int:
        return 0

    msg_cycles_available128 = msg_cycles_available
    msg_cycles_refunded = msg_cycles_available
    msg_cycles_refunded128 = msg_cycles_available

    def msg_cycles_accept(self, max_amount: int) -> int:
        return 0

    msg_cycles_accept128 = msg_cycles_accept

    # -- certification ------------------------------------------------------------------------------------

    def set_certified_data(self, data: bytes) -> None:
        c = self._replicated("ic0.certified_data_set")
        if len(data) > 32:
            raise Trap("certified data must be at most 32 bytes")
        c.certified_data = bytes(data)

    def data_certificate(self) -> bytes | None:
        c = self._c()
        return c.data_certificate if c.kind == "query" else None

    # -- timers -------------------------------------------------------------------------------------------

    def set_timer(self, delay: int, func: Any) -> int:
        return self._add_timer(delay, None, func)

    def set_timer_interval(self, interval: int, func: Any) -> int:
        return self._add_timer(interval, interval, func)

    def _add_timer(self, delay: int, interval: int | None, func: Any) -> int:
        c = self._c()
        tid = self.next_timer_id
        self.next_timer_id += 1
        self.timers[tid] = Timer(
            c.time + int(delay) * 1_000_000_000, interval and int(interval) * 1_000_000_000, func
        )
        return tid

    def clear_timer(self, timer_id: int) -> None:
        self.timers.pop(timer_id, None)

    def next_timer_due(self) -> int | None:
        return min((t.due for t in self.timers.values()), default=None)

    # -- StableBTreeMap -----------------------------------------------------------------------------------

    def _stable(self, op: str, *args: Any) -> Any:
        if self.ctx is None:
            raise Trap("stable memory is only available while a message executes")
        try:
            return getattr(self.memory, op)(*args)
        except StableTrap as e:
            raise Trap(str(e)) from None

    def stable_b_tree_map_contains_key(self, memory_id: int, key: Any) -> bool:
        return self._stable("contains_key", memory_id, key)

    def stable_b_tree_map_get(self, memory_id: int, key: Any) -> Any:
        return self._stable("get", memory_id, key)

    def stable_b_tree_map_insert(self, memory_id: int, key: Any, value: Any) -> Any:
        return self._stable("insert", memory_id, key, value)

    def stable_b_tree_map_remove(self, memory_id: int, key: Any) -> Any:
        return self._stable("remove", memory_id, key)

    def stable_b_tree_map_is_empty(self, memory_id: int) -> bool:
        return self._stable("is_empty", memory_id)

    def stable_b_tree_map_len(self, memory_id: int) -> int:
        return self._stable("len", memory_id)

    def stable_b_tree_map_keys(self, memory_id: int) -> list:
        return self._stable("keys", memory_id)

    def stable_b_tree_map_values(self, memory_id: int) -> list:
        return self._stable("values", memory_id)

    def stable_b_tree_map_items(self, memory_id: int) -> list:
        return self._stable("items", memory_id)

    # -- raw stable memory --------------------------------------------------------------------------------

    def stable_size(self) -> int:
        return min(self._stable("size_pages"), STABLE32_LIMIT)

    def stable64_size(self) -> int:
        return self._stable("size_pages")

    def stable_grow(self, new_pages: int) -> dict:
        old = self._stable("grow", new_pages, STABLE32_LIMIT)
        return {"Err": {"OutOfMemory": None}} if old is None else {"Ok": old}

    def stable64_grow(self, new_pages: int) -> dict:
        old = self._stable("grow", new_pages, STABLE64_LIMIT)
        return {"Err": {"OutOfMemory": None}} if old is None else {"Ok": old}

    def stable_read(self, offset: int, length: int) -> bytes:
        return self._stable("read", offset, length)

    stable64_read = stable_read

    def stable_write(self, offset: int, buf: bytes) -> None:
        self._stable("write", offset, bytes(buf))

    stable64_write = stable_write

    def stable_bytes(self) -> bytes:
        return self._stable("read", 0, self._stable("size_pages") * 65536)

    # -- not available on localnet ------------------------------------------------------------------------

    def candid_encode(self, candid_string: str) -> bytes:
        raise Trap("ic.candid_encode (Candid text) is not supported by localnet")

    def candid_decode(self, candid_encoded: bytes) -> str:
        raise Trap("ic.candid_decode (Candid text) is not supported by localnet")

    def notify_raw(self, canister_id: Any, method: str, args_raw: bytes, payment: int) -> dict:
        raise Trap("ic.notify_raw is not supported by localnet")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("notify_"):  # what Kybra's `.notify()` on a service call looks up

            def unsupported(*args: Any) -> NoReturn:
                raise Trap("notify (one-way calls) is not supported by localnet")

            return unsupported
        raise AttributeError(name)
