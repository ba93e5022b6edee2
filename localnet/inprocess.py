"""Calling canisters in process, as a test library does (PocketIC style): no HTTP, no signatures.

`LocalNet.agent(identity)` returns an `Agent` whose calls go straight to the replica as `identity`;
arguments and results are Python values in Kybra's mapping, typed by the called method's Candid
signature (read from the canister's source, or the system canisters' types for `aaaaa-aa`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ic_protocol.principal import from_text, to_text
from localnet import candid_codec
from localnet.management import SYSTEM_METHODS, is_system, method_kind
from localnet.management_types import SYSTEM_IFACE
from localnet.outcome import Outcome, Reject

EMPTY_ARG = b"DIDL\x00\x00"
ANONYMOUS = b"\x04"


class CanisterReject(Exception):
    """The call was rejected: the IC's reject `code` (1 to 5), `message` and `error_code` ("IC0503")."""

    def __init__(self, reject: Reject):
        super().__init__(f"{reject.error_code}: {reject.message}")
        self.code, self.message, self.error_code = reject.code, reject.message, reject.error_code


def principal_of(identity: Any) -> bytes:
    """The principal bytes of an identity: None (anonymous), bytes, principal text, a Principal
    (`.bytes`), or an identity object (`.principal`, or ic-py's `.sender()`)."""
    if identity is None:
        return ANONYMOUS
    if isinstance(identity, bytes | bytearray):
        return bytes(identity)
    if isinstance(identity, str):
        return from_text(identity)
    principal = getattr(identity, "principal", None)
    if principal is not None:
        return principal_of(principal() if callable(principal) else principal)
    sender = getattr(identity, "sender", None)
    if callable(sender):
        return principal_of(sender())
    return candid_codec.principal_bytes(identity)


class Agent:
    """Calls as one principal. `call` is typed; `query_raw`/`update_raw` take and return Candid bytes."""

    def __init__(self, replica: Any, sender: bytes, resolve: Callable[[str | bytes], bytes]):
        self.replica = replica
        self.sender = sender
        self.resolve = resolve

    @property
    def principal(self) -> str:
        return to_text(self.sender)

    def call(self, canister: str | bytes, method: str, *args: Any) -> Any:
        """Call `method` with `args` as its Candid signature types them; a query method runs as a query.
        Returns the result (None for no result); raises CanisterReject on a reject."""
        cid = self.resolve(canister)
        params, returns, kind, iface = self._signature(cid, method)
        arg = candid_codec.encode(params, list(args), iface)
        raw = self.query_raw(cid, method, arg) if kind == "query" else self.update_raw(cid, method, arg)
        values = candid_codec.decode(raw, returns, iface)
        return values[0] if len(values) == 1 else (tuple(values) if values else None)

    def query_raw(self, canister: str | bytes, method: str, arg: bytes = EMPTY_ARG) -> bytes:
        return self._reply(self.replica.query(self.resolve(canister), method, arg, self.sender))

    def update_raw(self, canister: str | bytes, method: str, arg: bytes = EMPTY_ARG) -> bytes:
        return self._reply(self.replica.update(self.resolve(canister), method, arg, self.sender))

    def _signature(self, cid: bytes, method: str) -> tuple:
        if is_system(cid):
            if method not in SYSTEM_METHODS[cid]:
                raise CanisterReject(Reject(3, f"Canister {to_text(cid)} has no method '{method}'", "IC0302"))
            params, returns = SYSTEM_METHODS[cid][method]
            return params, returns, method_kind(cid, method), SYSTEM_IFACE
        if self.replica.canister_info(cid) is None:
            raise CanisterReject(Reject(3, f"Canister {to_text(cid)} not found", "IC0301"))
        refused = self.replica.unavailable(cid)
        if refused is not None:
            raise CanisterReject(refused)
        iface = self.replica.interface(cid)
        found = iface.methods.get(method) if iface is not None else None
        if found is None or found.kind not in ("query", "update"):
            raise CanisterReject(Reject(3, f"Canister {to_text(cid)} has no method '{method}'", "IC0302"))
        return found.params, found.returns, found.kind, iface

    @staticmethod
    def _reply(outcome: Outcome) -> bytes:
        if isinstance(outcome, Reject):
            raise CanisterReject(outcome)
        return outcome.arg
