"""Calls into a hosted simple_db canister with real Candid (ic-py's encoder and decoder, the client's
types of canister/simple_db.did), straight through localnet's Replica or over HTTP with ic-py agents."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ic.candid import decode, encode
from ic.principal import Principal
from simple_db_client import candid_types as ct

from localnet.outcome import Reject

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "canister" / "src" / "main.py"
CONSUMER_ENTRY = ROOT / "examples" / "consumer" / "src" / "main.py"
ANONYMOUS = Principal.anonymous()


class Rejected(Exception):
    """The IC rejected the message (trap, malformed Candid, unknown method)."""

    def __init__(self, code: int, message: str):
        super().__init__(f"reject {code}: {message}")
        self.code = code
        self.message = message


class CallErr(Exception):
    """The canister answered `Err`."""

    def __init__(self, error: dict):
        ((kind, message),) = error.items()
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def user(name: str) -> Principal:
    """A deterministic self-authenticating-style principal for a test user."""
    return Principal(hashlib.sha224(name.encode()).digest() + b"\x02")


def plain(value: Any) -> Any:
    """`value` with every Principal object as its text (ic-py encodes principals from text; Principal
    objects have no equality)."""
    if isinstance(value, Principal):
        return value.to_str()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def encode_args(method: str, args: tuple) -> bytes:
    arg_types, _, _ = ct.METHODS[method]
    return encode([{"type": t, "value": plain(v)} for t, v in zip(arg_types, args, strict=True)])


def decode_reply(method: str, data: bytes) -> Any:
    _, result_type, _ = ct.METHODS[method]
    return decode(data, result_type)[0]["value"]


class ReplicaCaller:
    """One principal calling the canister through the Replica (no HTTP): queries and updates as declared."""

    def __init__(self, replica, canister_id: bytes, principal: Principal):
        self.replica = replica
        self.canister_id = canister_id
        self.principal = principal

    @property
    def text(self) -> str:
        return self.principal.to_str()

    def raw(self, method: str, arg: bytes, as_update: bool | None = None) -> bytes:
        kind = ct.METHODS[method][2] if method in ct.METHODS else "update"
        update = kind == "update" if as_update is None else as_update
        send = self.replica.update if update else self.replica.query
        outcome = send(self.canister_id, method, arg, self.principal.bytes)
        if isinstance(outcome, Reject):
            raise Rejected(outcome.code, outcome.message)
        return outcome.arg

    def call(self, method: str, *args: Any) -> Any:
        return decode_reply(method, self.raw(method, encode_args(method, args)))

    def ok(self, method: str, *args: Any) -> Any:
        """The `Ok` payload, or CallErr."""
        result = self.call(method, *args)
        if "Err" in result:
            raise CallErr(result["Err"])
        return result["Ok"]

    def err(self, method: str, *args: Any) -> tuple[str, str]:
        """(kind, message) of an expected `Err`."""
        result = self.call(method, *args)
        assert "Err" in result, f"{method} succeeded for {self.text}: {result}"
        ((kind, message),) = result["Err"].items()
        return kind, message


class AgentCaller(ReplicaCaller):
    """The same calls over the IC HTTP interface with an ic-py Agent (v2 query, v2 call + polling)."""

    def __init__(self, agent, canister_id: str):
        self.agent = agent
        self.canister_text = canister_id
        self.principal = agent.identity.sender()

    def raw(self, method: str, arg: bytes, as_update: bool | None = None) -> Any:
        """The decoded reply (ic-py decodes as it receives), or Rejected."""
        _, result_type, kind = ct.METHODS[method]
        update = kind == "update" if as_update is None else as_update
        try:
            if update:
                reply = self.agent.update_raw(self.canister_text, method, arg, result_type, delay=0.02)
            else:
                reply = self.agent.query_raw(self.canister_text, method, arg, result_type)
        except Exception as exc:  # ic-py raises a plain Exception for a rejected update
            raise Rejected(0, str(exc)) from exc
        if isinstance(reply, str):  # ic-py returns the reject message of a query
            raise Rejected(0, reply)
        return reply

    def call(self, method: str, *args: Any) -> Any:
        return self.raw(method, encode_args(method, args))[0]["value"]


# --- value builders (Candid-shaped, as ic-py encodes them) ---


def text(value: str) -> dict:
    return {"Text": value}


def field(name: str, value: dict) -> dict:
    return {"name": name, "value": value}


def fields_of(entity: dict) -> dict:
    """name -> Value of an Entity record."""
    return {f["name"]: f["value"] for f in entity["fields"]}


def opt(value: Any) -> list:
    return [] if value is None else [value]


def field_def(
    name: str,
    kind: str,
    required: bool = False,
    default: dict | None = None,
    low: float | None = None,
    high: float | None = None,
    indexed: bool = False,
) -> dict:
    return {
        "name": name,
        "kind": {kind: None},
        "required": required,
        "default": opt(default),
        "min": opt(None if low is None else float(low)),
        "max": opt(None if high is None else float(high)),
        "indexed": indexed,
    }


def relation_def(name: str, kind: str, target: str, reverse: str, on_delete: str = "SetNull") -> dict:
    return {
        "name": name,
        "kind": {kind: None},
        "target": target,
        "reverse": reverse,
        "on_delete": {on_delete: None},
    }


def policy(
    read: str = "Public",
    create: str = "Anyone",
    modify: str = "Owner",
    delete: str = "Owner",
    certified: bool = False,
) -> dict:
    return {
        "read": {read: None},
        "create": {create: None},
        "modify": {modify: None},
        "delete": {delete: None},
        "certified": [True] if certified else [],
    }


def type_def(
    name: str,
    fields: list,
    alias: str | None = None,
    relations: list | None = None,
    access: dict | None = None,
) -> dict:
    return {
        "name": name,
        "fields": fields,
        "alias": opt(alias),
        "relations": relations or [],
        "policy": access or policy(),
    }
