"""Candid for the Kybra host: encode and decode values in Kybra's mapping, and order stable-map keys.

The work is done by candid_encoder (compiled encoders) and candid_decoder (typed decoding); this
module is the one the rest of localnet imports.
"""

from __future__ import annotations

from typing import Any

from localnet.candid_decoder import decode
from localnet.candid_encoder import encode
from localnet.candid_types import CType, Func, Interface, Opt, Prim, Record, Variant, Vec
from localnet.candid_wire import CandidError, principal_bytes, sleb, uleb

__all__ = ["CandidError", "decode", "encode", "principal_bytes", "sleb", "sort_key", "uleb"]


def sort_key(iface: Interface, t: CType, v: Any) -> Any:
    """A Python value ordering like the Rust `Ord` Kybra derives for a stable map's key type."""
    t = iface.resolve(t)
    if isinstance(t, Prim):
        if t.name == "principal":
            return principal_bytes(v)
        if t.name == "text":
            return v.encode()
        if t.name in ("null", "reserved"):
            return 0
        if t.name == "blob":
            return bytes(v)
        return v
    if isinstance(t, Opt):
        return (0,) if v is None else (1, sort_key(iface, t.inner, v))
    if isinstance(t, Vec):
        return tuple(sort_key(iface, t.inner, x) for x in v)
    if isinstance(t, Record):
        if t.tuple:
            return tuple(sort_key(iface, ft, x) for (_, ft), x in zip(t.fields, v))
        return tuple(sort_key(iface, ft, v[n]) for n, ft in t.fields)
    if isinstance(t, Func):
        return (principal_bytes(v[0]), v[1].encode())
    if isinstance(t, Variant):
        ((tag, payload),) = v.items()
        for i, (n, ft) in enumerate(t.fields):
            if n == tag:
                return (i, sort_key(iface, ft, payload))
    return principal_bytes(v)
