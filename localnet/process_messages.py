"""The messages between the replica and a canister process, as typed records (both runtimes, CPython's
canister_process and RustPython's wasm_process, use them; they cross the socket pickled). A process
answers a message with `Done` or, when an async update awaits a call, `CallOut`.

`info` carries what the replica keeps about the canister between messages, when the process knows it:
"next_timer" (ns, or None for no timer), "accepted" (inspect_message's verdict) and "instructions"
(what the message cost, RustPython only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from localnet.outcome import Outcome


@dataclass
class Done:
    """The message ended: its outcome; its stable-memory writes and certified data, which the replica
    commits only if `commit` (a successful update; for install/pre_upgrade it applies them itself)."""

    outcome: Outcome
    writes: dict = field(default_factory=dict)
    certified: bytes | None = None
    commit: bool = False
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class CallOut:
    """An async update awaits an inter-canister call: commit `writes`/`certified` (state is committed at
    an await, as on the IC), run `method` of `callee` with `arg`, then resume call `call_id`."""

    writes: dict
    certified: bytes | None
    callee: bytes
    method: str
    arg: bytes
    call_id: int


# -- what the replica sends a canister process ------------------------------------------------------------
# Named tuples: fields by name for new code, and still tuples (`msg[0]` is the operation, unpacking works)
# for every runtime that reads them by position.


class Start(NamedTuple):
    """Run init (`mode` "init") or post_upgrade ("post_upgrade", also after a restart) in a fresh process,
    after applying pre_upgrade's `pre_writes`."""

    op: str
    mode: str
    pre_writes: dict
    arg: bytes
    caller: bytes
    time: int


class Execute(NamedTuple):
    """Run method `method` as a "query" or an "update" (`kind` twice: the call's and the context's)."""

    op: str
    kind: str
    method: str
    arg: bytes
    caller: bytes
    time: int
    extra: dict  # "data_certificate" for queries


class Inspect(NamedTuple):
    op: str
    method: str
    arg: bytes
    caller: bytes
    time: int


class PreUpgrade(NamedTuple):
    op: str
    caller: bytes
    time: int


class Timer(NamedTuple):
    """Run the earliest due timer (or heartbeat) at `time`."""

    op: str
    time: int


class Resume(NamedTuple):
    """The answer to call `call_id`: ("ok", reply bytes) or ("err", reject code, message)."""

    op: str
    call_id: int
    result: tuple
    time: int


def start(mode: str, pre_writes: dict, arg: bytes, caller: bytes, time: int) -> Start:
    return Start("start", mode, pre_writes, arg, caller, time)


def execute(
    kind: str, method: str, arg: bytes, caller: bytes, time: int, extra: dict | None = None
) -> Execute:
    return Execute(kind, kind, method, arg, caller, time, extra or {})


def inspect(method: str, arg: bytes, caller: bytes, time: int) -> Inspect:
    return Inspect("inspect", method, arg, caller, time)


def pre_upgrade(caller: bytes, time: int) -> PreUpgrade:
    return PreUpgrade("pre_upgrade", caller, time)


def timer(time: int) -> Timer:
    return Timer("timer", time)


def resume(call_id: int, result: tuple, time: int) -> Resume:
    return Resume("resume", call_id, result, time)


EXIT = ("exit",)
