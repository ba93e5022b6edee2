"""Conversion between the Candid `Value` variant and what the engine stores, checked against a field's kind.

Stored forms: Text -> str, Int -> int, Float -> float, Bool -> bool, Principal -> principal text,
Timestamp -> int (ns), Null -> None. Kinds are the FieldKind case names.
"""

import math

import api_limits
from error_map import invalid

KINDS = ("Text", "Int", "Float", "Bool", "Principal", "Timestamp")


def variant_case(value: dict, what: str) -> tuple:
    """The (tag, payload) of a Candid variant value given as a one-key dict."""
    if not isinstance(value, dict) or len(value) != 1:
        raise invalid(what + " must be a variant with exactly one case")
    for tag in value:
        return tag, value[tag]
    raise invalid(what + " is empty")


def principal_text(principal: object) -> str:
    """The text form of a principal given as a Kybra/ic-py Principal object or as text."""
    if isinstance(principal, str):
        return principal
    to_str = getattr(principal, "to_str", None)
    if to_str is None:
        raise invalid("expected a principal")
    return to_str()


def stored_from_value(kind: str, value: dict, field: str, max_text: int = api_limits.MAX_TEXT) -> object:
    """The stored form of a Candid Value for a field of `kind`; raises ApiError(Invalid) on a mismatch."""
    tag, payload = variant_case(value, "value of " + field)
    if tag == "Null":
        return None
    if tag == "Int" and kind == "Float":
        tag = "Float"
    if tag != kind:
        raise invalid("field " + field + " is " + kind + ", got a " + tag + " value")
    if kind == "Text":
        if not isinstance(payload, str):
            raise invalid("field " + field + " needs text")
        if len(payload) > max_text:
            raise invalid("field " + field + " is longer than " + str(max_text) + " characters")
        return payload
    if kind == "Int":
        if isinstance(payload, bool) or not isinstance(payload, int):
            raise invalid("field " + field + " needs an integer")
        if payload > api_limits.MAX_INT or payload < api_limits.MIN_INT:
            raise invalid("field " + field + " is outside the 64-bit signed range")
        return payload
    if kind == "Float":
        if isinstance(payload, bool) or not isinstance(payload, (int, float)):
            raise invalid("field " + field + " needs a number")
        try:
            payload = float(payload)
        except OverflowError:
            raise invalid("field " + field + " is outside the Float range") from None
        if math.isnan(payload) or math.isinf(payload):
            raise invalid("field " + field + " must be a finite number")
        return payload + 0.0  # -0.0 becomes 0.0: equal values get one index and count key
    if kind == "Bool":
        if not isinstance(payload, bool):
            raise invalid("field " + field + " needs a bool")
        return payload
    if kind == "Principal":
        return principal_text(payload)
    if kind == "Timestamp":
        if isinstance(payload, bool) or not isinstance(payload, int) or payload < 0:
            raise invalid("field " + field + " needs a timestamp in nanoseconds")
        if payload > api_limits.MAX_NAT64:
            raise invalid("field " + field + " is outside the nat64 range")
        return payload
    raise invalid("unknown value kind " + str(tag))


class ValueCodec:
    """Builds Candid Values from stored forms; `principal` turns principal text into a Principal object."""

    def __init__(self, principal):
        self.principal = principal

    def value(self, kind: str, stored: object) -> dict:
        """The Candid Value of a stored field; a stored value of another kind (after a forced schema
        change) reads as Null rather than trapping."""
        if stored is None:
            return {"Null": None}
        if kind == "Text" and isinstance(stored, str):
            return {"Text": stored}
        if kind == "Int" and isinstance(stored, int) and not isinstance(stored, bool):
            return {"Int": stored}
        if kind == "Float" and isinstance(stored, (int, float)) and not isinstance(stored, bool):
            return {"Float": float(stored)}
        if kind == "Bool" and isinstance(stored, bool):
            return {"Bool": stored}
        if kind == "Principal" and isinstance(stored, str):
            try:
                return {"Principal": self.principal(stored)}
            except Exception:
                return {"Null": None}
        if kind == "Timestamp" and isinstance(stored, int) and not isinstance(stored, bool) and stored >= 0:
            return {"Timestamp": stored}
        return {"Null": None}

    def untyped(self, stored: object) -> dict:
        """A Candid Value for a stored value whose kind is unknown (audit of a dropped field)."""
        if stored is None:
            return {"Null": None}
        if isinstance(stored, bool):
            return {"Bool": stored}
        if isinstance(stored, int):
            return {"Int": stored}
        if isinstance(stored, float):
            return {"Float": stored}
        return {"Text": str(stored)}


def field_map(fields: list, what: str = "fields", most: int = None) -> dict:
    """`vec Field` as an ordered dict name -> Value; a repeated name is refused, and so is a list longer
    than `most` (the names the type has) before it is walked."""
    if not isinstance(fields, list):
        raise invalid(what + " must be a list")
    if most is not None and len(fields) > most:
        raise invalid("at most " + str(most) + " " + what + " (each name once, and only names the type has)")
    result = {}
    for item in fields:
        name = item["name"]
        if name in result:
            raise invalid("field " + name + " given twice")
        result[name] = item["value"]
    return result
