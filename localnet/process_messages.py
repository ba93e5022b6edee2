"""What a canister process sends the replica when a message ends, as typed records (both runtimes,
CPython's canister_process and RustPython's wasm_process, send these; they cross the socket pickled).

`info` carries what the replica keeps about the canister between messages, when the process knows it:
"next_timer" (ns, or None for no timer), "accepted" (inspect_message's verdict) and "instructions"
(what the message cost, RustPython only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
