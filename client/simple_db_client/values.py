"""Python values <-> the canister's Candid `Value` variant, and `vec Field` <-> dict."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from .principal import Principal, is_principal

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NAT64_MAX = 2**64 - 1


class Timestamp(datetime):
    """A UTC datetime that keeps the exact nanoseconds of a Candid Timestamp (datetime keeps microseconds)."""

    _sub_microsecond_ns = 0  # the 0..999 ns below the microsecond; arithmetic results fall back to 0

    @classmethod
    def from_ns(cls, ns: int) -> Timestamp:
        """The instant `ns` nanoseconds after the Unix epoch."""
        if not 0 <= ns <= NAT64_MAX:
            raise ValueError(f"timestamp out of range: {ns}")
        moment = EPOCH + timedelta(microseconds=ns // 1000)
        stamp = cls(
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
            moment.microsecond,
            tzinfo=timezone.utc,
        )
        stamp._sub_microsecond_ns = ns % 1000
        return stamp

    @property
    def nanoseconds(self) -> int:
        """Nanoseconds since the Unix epoch."""
        return datetime_to_ns(self)

    def __repr__(self) -> str:
        return f"Timestamp.from_ns({self.nanoseconds})"


def datetime_to_ns(moment: datetime) -> int:
    """Nanoseconds since the Unix epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - EPOCH
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    ns += getattr(moment, "_sub_microsecond_ns", 0)
    if not 0 <= ns <= NAT64_MAX:
        raise ValueError(f"datetime out of the Timestamp range (1970 to 2554): {moment.isoformat()}")
    return ns


def to_value(value: Any) -> dict:
    """The Candid `Value` for a Python value (str, int, float, bool, Principal, datetime or None)."""
    if value is None:
        return {"Null": None}
    if isinstance(value, bool):
        return {"Bool": value}
    if isinstance(value, int):
        return {"Int": value}
    if isinstance(value, float):
        return {"Float": value}
    if isinstance(value, str):
        return {"Text": value}
    if isinstance(value, datetime):
        return {"Timestamp": datetime_to_ns(value)}
    if is_principal(value):
        return {"Principal": value.to_str()}
    raise TypeError(
        f"unsupported value {value!r} of type {type(value).__name__}: "
        "use str, int, float, bool, Principal, datetime or None"
    )


def from_value(value: dict) -> Any:
    """The Python value of a decoded Candid `Value` variant."""
    ((kind, payload),) = value.items()
    if kind == "Null":
        return None
    if kind == "Timestamp":
        return Timestamp.from_ns(payload)
    if kind == "Principal":
        return Principal.of(payload)
    if kind == "Float":
        return float(payload)
    if kind in ("Text", "Int", "Bool"):
        return payload
    raise ValueError(f"unknown Value kind {kind!r}")


def to_fields(fields: Mapping[str, Any] | None) -> list[dict]:
    """A dict of field values as a Candid `vec Field`."""
    if fields is None:
        return []
    if not isinstance(fields, Mapping):
        raise TypeError(f"fields must be a mapping of name to value, got {type(fields).__name__}")
    out = []
    for name, value in fields.items():
        if not isinstance(name, str):
            raise TypeError(f"field names must be str, got {name!r}")
        out.append({"name": name, "value": to_value(value)})
    return out


def from_fields(fields: list[dict]) -> dict[str, Any]:
    """A decoded Candid `vec Field` as a dict, in the canister's order."""
    return {field["name"]: from_value(field["value"]) for field in fields}


def to_json(value: Any) -> Any:
    """A JSON-friendly form of a Python value (for the CLI's --json output)."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if is_principal(value):
        return value.to_str()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def coerce(kind: str, value: Any) -> Any:
    """`value` (text from a command line or a JSON scalar) as the Python type of a field `kind`;
    None stays None. Raise ValueError with a clear message when it does not fit."""
    if value is None:
        return None
    kind = kind.capitalize()
    try:
        if kind == "Text":
            return value if isinstance(value, str) else str(value)
        if kind == "Int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind == "Float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "Bool":
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ValueError
        if kind == "Principal":
            return Principal.of(value)
        if kind == "Timestamp":
            if isinstance(value, datetime):
                return value
            if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                return Timestamp.from_ns(int(value))
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{value!r} is not a valid {kind}") from exc
    raise ValueError(f"unknown field kind {kind!r}")
