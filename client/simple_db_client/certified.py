"""Verification of certified reads and of the ICRC-3 audit chain against the subnet's signature.

A certified entity reply carries the entity, a witness (a CBOR IC hash tree) and the IC's data
certificate. It is accepted only when the certificate is signed by the root key (or its delegation) for
this canister and is fresh, the witness's root digest is the canister's certified_data, and the witness
maps ["entities", type, id (8 bytes big-endian)] to the hash of exactly the entity returned (or proves
it absent when none is returned). Entity and block hashes use the ICRC-3 Value hash (value_hash).
"""

from __future__ import annotations

import struct
from typing import Any

import leb128

from ic_protocol import hash_tree
from ic_protocol.certificate import lookup as certificate_lookup
from ic_protocol.certificate import parse_certificate, verify_certificate
from ic_protocol.errors import CertificateError as ProtocolCertificateError
from ic_protocol.hash_tree import ABSENT
from ic_protocol.icrc3_value import value_hash
from ic_protocol.tagged_cbor import loads

from .errors import CertificateError

DEFAULT_MAX_AGE_S = 300.0


def _principal_text(value: Any) -> str:
    return value if isinstance(value, str) else value.to_str()


def _stored(value: dict) -> dict | None:
    """The certified Value of one Candid field Value (None for Null: unset fields are not hashed)."""
    ((tag, payload),) = value.items()
    if tag == "Null":
        return None
    if tag == "Text":
        return {"Map": [("Text", {"Text": payload})]}
    if tag == "Principal":
        return {"Map": [("Text", {"Text": _principal_text(payload)})]}
    if tag in ("Int", "Timestamp"):
        return {"Map": [("Int", {"Int": int(payload)})]}
    if tag == "Float":
        return {"Map": [("Float", {"Blob": struct.pack(">d", float(payload))})]}
    if tag == "Bool":
        return {"Map": [("Bool", {"Nat": 1 if payload else 0})]}
    raise CertificateError(f"unknown field value kind {tag!r}")


def _opt(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def entity_value(entity: dict) -> dict:
    """The ICRC-3 Value the canister hashes for an entity, rebuilt from the Candid Entity record."""
    fields = []
    for field in entity["fields"]:
        stored = _stored(field["value"])
        if stored is not None:
            fields.append((field["name"], stored))
    refs = []
    for ref in entity["refs"]:
        target = _opt(ref["target_id"])
        if target is not None:
            refs.append((ref["relation"], {"Nat": int(target)}))
    return {
        "Map": [
            ("type_name", {"Text": entity["type_name"]}),
            ("id", {"Nat": int(entity["id"])}),
            ("fields", {"Map": fields}),
            ("refs", {"Map": refs}),
            ("owner", {"Text": _principal_text(entity["owner"])}),
            ("creator", {"Text": _principal_text(entity["creator"])}),
            ("updater", {"Text": _principal_text(entity["updater"])}),
            ("created_at", {"Nat": int(entity["created_at"])}),
            ("updated_at", {"Nat": int(entity["updated_at"])}),
            ("version", {"Nat": int(entity["version"])}),
        ]
    }


def entity_hash(entity: dict) -> bytes:
    return value_hash(entity_value(entity))


def certified_tree(
    certificate: bytes, witness: bytes, canister_id: bytes, root_key: bytes, max_age_s: float, now_ns=None
) -> list:
    """The witness tree, once the certificate is valid, fresh and for `canister_id`, and the witness's
    root is that canister's certified data."""
    try:
        cert = parse_certificate(bytes(certificate))
        verify_certificate(cert, root_key, canister_id, max_age_s=max_age_s, now_ns=now_ns)
        certified = certificate_lookup(cert, [b"canister", canister_id, b"certified_data"])
    except ProtocolCertificateError as exc:
        if isinstance(exc, CertificateError):
            raise
        raise CertificateError(str(exc)) from exc
    if not isinstance(certified, bytes):
        raise CertificateError("the certificate holds no certified data for this canister")
    try:
        tree = loads(bytes(witness))
        root = hash_tree.digest(tree)
    except ValueError as exc:
        raise CertificateError(f"malformed witness: {exc}") from exc
    if root != certified:
        raise CertificateError("the witness does not match the canister's certified data")
    return tree


def _lookup(tree: list, path: list) -> object:
    try:
        return hash_tree.lookup(tree, path)
    except ValueError as exc:
        raise CertificateError(f"malformed witness: {exc}") from exc


def verify_entity(
    reply: dict,
    type_name: str,
    entity_id: int,
    canister_id: bytes,
    root_key: bytes,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    now_ns: int | None = None,
) -> dict | None:
    """The entity of a `get_certified` Ok reply (raw Candid record), or None for a proven absence;
    CertificateError when anything does not check out."""
    tree = certified_tree(reply["certificate"], reply["witness"], canister_id, root_key, max_age_s, now_ns)
    leaf = _lookup(tree, [b"entities", type_name.encode("utf-8"), int(entity_id).to_bytes(8, "big")])
    entity = _opt(reply["entity"])
    if entity is None:
        if leaf is not ABSENT:
            raise CertificateError(f"the witness does not prove that {type_name} {entity_id} is absent")
        return None
    if entity["type_name"] != type_name or int(entity["id"]) != int(entity_id):
        raise CertificateError("the reply holds another entity than the one asked for")
    if not isinstance(leaf, bytes):
        raise CertificateError(f"the witness does not certify {type_name} {entity_id}")
    try:
        actual = entity_hash(entity)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CertificateError(f"malformed entity in the reply: {exc}") from exc
    if leaf != actual:
        raise CertificateError(f"{type_name} {entity_id} differs from the certified one")
    return entity


def verify_page(
    reply: dict,
    type_name: str,
    after: int | None,
    canister_id: bytes,
    root_key: bytes,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    now_ns: int | None = None,
) -> list[dict]:
    """The entities of a `list_certified` Ok reply, once the witness proves them to be exactly the
    stored entities with ids in (after, last item] (up to the end of the type when `next` is null)."""
    tree = certified_tree(reply["certificate"], reply["witness"], canister_id, root_key, max_age_s, now_ns)
    items = list(reply["items"])
    ids = [int(e["id"]) for e in items]
    following = _opt(reply["next"])
    if any(e["type_name"] != type_name for e in items) or ids != sorted(set(ids)):
        raise CertificateError("the page holds other types or unordered ids")
    if after is not None and ids and ids[0] <= after:
        raise CertificateError("the page starts at or before its cursor")
    if following is not None and (not ids or int(following) != ids[-1]):
        raise CertificateError("the page's next cursor is not its last id")
    try:
        below = hash_tree.subtree(tree, [b"entities", type_name.encode("utf-8")])
        nodes = [] if below is ABSENT else hash_tree.flatten(below) if isinstance(below, list) else None
    except ValueError as exc:
        raise CertificateError(f"malformed witness: {exc}") from exc
    if nodes is None:
        raise CertificateError(f"the witness does not cover {type_name}")
    labels = [int.from_bytes(n[1], "big") if n[0] == hash_tree.LABELED else None for n in nodes]
    low = -1 if after is None else after
    start = max((i for i, label in enumerate(labels) if label is not None and label <= low), default=-1)
    end = (
        len(nodes)
        if following is None
        else next((i + 1 for i, label in enumerate(labels) if label == ids[-1]), -1)
    )
    covered = nodes[start + 1 : end] if end > start else []
    covered_ids = [labels[start + 1 + i] for i in range(len(covered))]
    if any(n[0] != hash_tree.LABELED for n in covered) or covered_ids != ids:
        raise CertificateError("the witness does not prove the page complete")
    for node, entity in zip(covered, items):
        leaf = node[2]
        if leaf[0] != hash_tree.LEAF or bytes(leaf[1]) != entity_hash(entity):
            raise CertificateError(f"{type_name} {entity['id']} differs from the certified one")
    return items


def verify_tip(
    tip: dict, canister_id: bytes, root_key: bytes, max_age_s: float = DEFAULT_MAX_AGE_S, now_ns=None
) -> tuple[int, bytes]:
    """(last block index, last block hash) of an `icrc3_get_tip_certificate` reply."""
    tree = certified_tree(tip["certificate"], tip["hash_tree"], canister_id, root_key, max_age_s, now_ns)
    index = _lookup(tree, [b"last_block_index"])
    block_hash = _lookup(tree, [b"last_block_hash"])
    if not isinstance(index, bytes) or not isinstance(block_hash, bytes):
        raise CertificateError("the tip certificate has no last_block_index / last_block_hash")
    return leb128.u.decode(index), block_hash


def _phash(block: dict) -> bytes | None:
    if not isinstance(block, dict) or "Map" not in block:
        raise CertificateError("a block must be a Value Map")
    for item in block["Map"]:
        key, value = (item[0], item[1]) if not isinstance(item, dict) else tuple(item.values())
        if key == "phash":
            if "Blob" not in value:
                raise CertificateError("a block's phash must be a Blob")
            return bytes(value["Blob"])
    return None


def verify_chain(blocks: list[tuple[int, dict]], last_index: int, last_hash: bytes) -> None:
    """Check that consecutive `blocks` (id, Value) run up to the certified tip: each block's hash is the
    next block's phash, and the last one's is `last_hash`."""
    if not blocks:
        raise CertificateError("no blocks to verify")
    if blocks[-1][0] != last_index:
        raise CertificateError(f"the blocks end at {blocks[-1][0]}, the certified tip is {last_index}")
    expected = last_hash
    previous_id = None
    for block_id, block in reversed(blocks):
        if previous_id is not None and block_id != previous_id - 1:
            raise CertificateError(f"block {previous_id - 1} is missing")
        try:
            actual = value_hash(block)
        except (ValueError, TypeError, AttributeError) as exc:
            raise CertificateError(f"block {block_id} is not a Value: {exc}") from exc
        if actual != expected:
            raise CertificateError(f"block {block_id} does not match the certified chain")
        expected = _phash(block)
        previous_id = block_id
        if expected is None and block_id != blocks[0][0]:
            raise CertificateError(f"block {block_id} has no phash")


def _map(value: dict, what: str) -> dict:
    if not isinstance(value, dict) or "Map" not in value:
        raise CertificateError(f"{what} must be a Value Map")
    out = {}
    for item in value["Map"]:
        key, inner = (item[0], item[1]) if not isinstance(item, dict) else tuple(item.values())
        out[key] = inner
    return out


def _stored_of(value: dict) -> Any:
    """The stored value of a kind-named Value ({"Text": Text}, {"Int": Int}, ...)."""
    ((kind, inner),) = _map(value, "a field value").items()
    ((_, payload),) = inner.items()
    if kind == "Float":
        return struct.unpack(">d", bytes(payload))[0]
    if kind == "Bool":
        return bool(payload)
    if kind == "Null":
        return None
    return payload


def block_entry(block_id: int, block: dict) -> dict:
    """The audit entry a verified block records: seq, time (ns), caller, operation, type_name, id and
    changes (field -> stored value)."""
    top = _map(block, "a block")
    tx = _map(top["tx"], "a block's tx")
    changes = {name: _stored_of(value) for name, value in _map(tx["changes"], "changes").items()}
    return {
        "seq": block_id,
        "time": _payload(top["ts"]),
        "caller": _payload(tx["caller"]),
        "operation": _payload(tx["op"]),
        "type_name": _payload(tx["type"]),
        "id": _payload(tx["id"]),
        "changes": changes,
    }


def _payload(value: dict) -> Any:
    ((_, inner),) = value.items()
    return inner
