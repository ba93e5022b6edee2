"""Check call arguments against the method's Candid types before encoding, so a wrong type is a clear
TypeError (and an out-of-range number a ValueError) naming the argument, not an error from inside the
Candid encoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .ic_candid import candid


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def check_value(candid_type: object, value: Any, name: str) -> None:
    """Raise TypeError/ValueError unless `value` can be encoded as `candid_type`."""
    if isinstance(candid_type, candid.TextClass):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, not {_describe(value)}")
    elif isinstance(candid_type, candid.FixedNatClass | candid.NatClass):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, not {_describe(value)}")
        bits = getattr(candid_type, "_bits", None)
        if value < 0 or (bits is not None and value >= 1 << bits):
            limit = f" below 2**{bits}" if bits is not None else ""
            raise ValueError(f"{name} must be a natural number{limit}, not {value}")
    elif isinstance(candid_type, candid.IntClass):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, not {_describe(value)}")
    elif isinstance(candid_type, candid.BoolClass):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, not {_describe(value)}")
    elif isinstance(candid_type, candid.PrincipalClass):
        if not isinstance(value, str | bytes):
            raise TypeError(f"{name} must be a principal's text or bytes, not {_describe(value)}")
    elif isinstance(candid_type, candid.OptClass):
        if not isinstance(value, list) or len(value) > 1:
            raise TypeError(f"{name} must be an optional value, not {_describe(value)}")
        for item in value:
            check_value(candid_type._type, item, name)
    elif isinstance(candid_type, candid.VecClass):
        if not isinstance(value, list | tuple):
            raise TypeError(f"{name} must be a list, not {_describe(value)}")
        for index, item in enumerate(value):
            check_value(candid_type._type, item, f"{name}[{index}]")
    elif isinstance(candid_type, candid.RecordClass | candid.VariantClass):
        if not isinstance(value, dict):
            raise TypeError(f"{name} must be a dict, not {_describe(value)}")


def check_args(method: str, types: Sequence[object], args: Sequence[Any], names: Sequence[str]) -> None:
    """Check each argument of a call to `method`; `names` are the caller-facing parameter names."""
    if len(args) != len(types):
        raise TypeError(f"{method}() takes {len(types)} Candid arguments, got {len(args)}")
    for index, (candid_type, value) in enumerate(zip(types, args)):
        name = names[index] if index < len(names) else f"argument {index + 1}"
        check_value(candid_type, value, f"{method}(): {name}")
