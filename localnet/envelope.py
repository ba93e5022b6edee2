"""Parsing and validation of the CBOR authentication envelope every POST to the IC HTTP interface carries."""

from __future__ import annotations

from dataclasses import dataclass

import cbor2

from ic_protocol.request_id import request_id
from localnet.http_error import HttpError

MAX_BODY_BYTES = 4 * 1024 * 1024  # any request body (queries and read_state too)
MAX_INGRESS_BYTES = 2 * 1024 * 1024  # an update call's whole body, as on the IC's application subnets
_FIELD_TYPES = {
    "request_type": str,
    "sender": bytes,
    "ingress_expiry": int,
    "nonce": bytes,
    "canister_id": bytes,
    "method_name": str,
    "arg": bytes,
    "paths": list,
}
MAX_NAT64 = 2**64 - 1
# Bounds of the values a request may carry (the IC's content holds blobs, text, nat64 and read_state paths
# of at most 1,000 x 127 labels): checked before the request id is hashed, so no value makes it costly.
MAX_VALUE_DEPTH = 6  # containers nested below the content map (paths need 2)
MAX_VALUES = 200_000  # values in one content map or delegation
_REQUIRED = {
    "call": ("canister_id", "method_name", "arg"),
    "query": ("canister_id", "method_name", "arg"),
    "read_state": ("paths",),
}


@dataclass(frozen=True)
class Envelope:
    """A decoded request: its `content` map, the authentication fields and the request id."""

    content: dict
    sender_pubkey: bytes | None
    sender_sig: bytes | None
    sender_delegation: list | None
    request_id: bytes

    @property
    def sender(self) -> bytes:
        return self.content["sender"]

    @property
    def ingress_expiry(self) -> int:
        return self.content["ingress_expiry"]


def _bad(message: str) -> HttpError:
    return HttpError(400, message)


def _check_paths(paths: list) -> None:
    if len(paths) > 1000:
        raise _bad("a read_state request may hold at most 1000 paths")
    for path in paths:
        if not isinstance(path, list) or len(path) > 127:
            raise _bad("each read_state path must be a list of at most 127 blobs")
        if not all(isinstance(label, bytes) for label in path):
            raise _bad("read_state path labels must be blobs")


def check_hashable(value: object, what: str) -> None:
    """Refuse what the IC never sends and what would make hashing `value` costly: integers outside
    nat64, map keys other than text or blobs, nesting past MAX_VALUE_DEPTH (CBOR's value-sharing tags
    can make a map contain itself) and more than MAX_VALUES values. Iterative: no recursion to exhaust."""
    pending = [(value, 0)]
    seen = 0
    while pending:
        item, depth = pending.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise _bad(f"{what} holds more than {MAX_VALUES} values")
        if isinstance(item, bool) or isinstance(item, (bytes, str)) or item is None:
            continue
        if isinstance(item, int):
            if not 0 <= item <= MAX_NAT64:
                raise _bad(f"{what} holds an integer outside 0..2**64-1 (nat64)")
            continue
        if not isinstance(item, (list, dict)):
            continue  # other CBOR values are refused by the hash with their own message
        if depth >= MAX_VALUE_DEPTH:
            raise _bad(f"{what} nests values more than {MAX_VALUE_DEPTH} levels deep")
        if isinstance(item, dict):
            if not all(isinstance(key, (str, bytes)) for key in item):
                raise _bad(f"{what}: map keys must be text or blobs")
            children = item.values()
        else:
            children = item
        pending.extend((child, depth + 1) for child in children)


def _check_content(content: object, request_type: str) -> dict:
    if not isinstance(content, dict):
        raise _bad("the envelope's content must be a map")
    if not all(isinstance(key, str) for key in content):
        raise _bad("the content map's keys must be text")
    check_hashable(content, "the content")
    for name, kind in _FIELD_TYPES.items():
        value = content.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise _bad(f"content field {name!r} must be a {kind.__name__}")
    if content.get("request_type") != request_type:
        raise _bad(f"this endpoint takes {request_type!r} requests, not {content.get('request_type')!r}")
    for name in ("sender", "ingress_expiry", *_REQUIRED[request_type]):
        if content.get(name) is None:
            raise _bad(f"content field {name!r} is missing")
    if len(content["sender"]) > 29:
        raise _bad("the sender is longer than 29 bytes")
    if content.get("nonce") is not None and len(content["nonce"]) > 32:
        raise _bad("the nonce is longer than 32 bytes")
    if content["ingress_expiry"] < 0:
        raise _bad("ingress_expiry must be a natural number")
    if request_type == "read_state":
        _check_paths(content["paths"])
    return content


def parse_envelope(body: bytes, request_type: str) -> Envelope:
    """Decode and validate a request body; HttpError(400) says what is wrong with a malformed one."""
    if len(body) > MAX_BODY_BYTES:
        raise HttpError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    try:
        decoded = cbor2.loads(body)
    except Exception as exc:  # cbor2 raises several error types for malformed input
        raise _bad(f"Could not parse body as {request_type} request: {exc}") from exc
    if isinstance(decoded, cbor2.CBORTag) or not isinstance(decoded, dict):
        raise _bad(f"Could not parse body as {request_type} request: the envelope must be a CBOR map")
    content = _check_content(decoded.get("content"), request_type)
    auth = {name: decoded.get(name) for name in ("sender_pubkey", "sender_sig")}
    for name, value in auth.items():
        if value is not None and not isinstance(value, bytes):
            raise _bad(f"envelope field {name!r} must be a blob")
    delegation = decoded.get("sender_delegation")
    if delegation is not None and not isinstance(delegation, list):
        raise _bad("envelope field 'sender_delegation' must be an array")
    if delegation is not None:
        check_hashable(delegation, "the sender delegation")
    try:
        rid = request_id(content)
    except TypeError as exc:
        raise _bad(f"content cannot be hashed: {exc}") from exc
    return Envelope(content, auth["sender_pubkey"], auth["sender_sig"], delegation, rid)
