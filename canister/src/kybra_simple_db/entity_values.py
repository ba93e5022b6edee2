"""Small value rules shared by the entity modules: what counts as an id, and when a value changed."""

from typing import Optional


def normalize_id(value) -> Optional[int]:
    """An entity id as int (from 3 or "3"), or None when `value` cannot be an id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value) if value > 0 else None     # a plain int (not a subclass) as the storage id
    if isinstance(value, str) and 0 < len(value) <= 19 and value.isascii() and value.isdigit():
        number = int(value)
        return number if number > 0 else None
    return None


def differs(a, b) -> bool:
    """True unless `a` and `b` are equal values of the same type (1, 1.0 and True all differ)."""
    return type(a) is not type(b) or a != b
