"""Query filters: operators, operand checks, the predicate on a stored value, and the key ranges of
an ordered index that can hold the matches.

A filter is (field, op, operand). Operands are checked against the field's kind (no coercion: an
Int field is never compared with text). Ranges are over the ordered index's sort keys
(ordered_index.sort_key); they may hold more than the matches (long Text is indexed by a prefix), so
every candidate is checked again with `matches` on the entity's real value.
"""

import math

from .db_errors import ValidationError
from .ordered_index import ID_CEILING, rank

OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "between", "in", "startswith")
SUFFIXES = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "between": "between",
            "in": "in", "startswith": "startswith"}
RANGE_OPERATORS = ("==", "<", "<=", ">", ">=", "between", "in", "startswith")
MAX_IN_VALUES = 100
_TEXT_KINDS = ("text", "principal")


def _check_scalar(kind: str, value, label: str):
    if kind in _TEXT_KINDS:
        if type(value) is not str:
            raise ValidationError(f"{label} compares with text, not {type(value).__name__}")
        return value
    if kind in ("int", "timestamp"):
        if type(value) is not int:
            raise ValidationError(f"{label} compares with an integer, not {type(value).__name__}")
        return value
    if kind == "float":
        if type(value) not in (int, float) or not math.isfinite(value):
            raise ValidationError(f"{label} compares with a finite number, not {value!r}")
        return float(value)
    if kind == "bool":
        if type(value) is not bool:
            raise ValidationError(f"{label} compares with True or False, not {type(value).__name__}")
        return value
    raise ValidationError(f"{label} cannot be filtered")


def check_filter(type_name: str, fields: dict, field: str, op: str, operand) -> tuple:
    """The filter (field, op, operand) with its operand checked against the field's kind."""
    prop = fields.get(field) if isinstance(field, str) else None
    if prop is None:
        raise ValidationError(f"{type_name} has no field {field!r}")
    if op not in OPERATORS:
        raise ValidationError(f"unknown operator {op!r} (use one of {', '.join(OPERATORS)})")
    label = f"{type_name}.{field} {op}"
    kind = prop.kind
    if operand is None:
        if op not in ("==", "!="):
            raise ValidationError(f"{label} needs a value (only == and != compare with None)")
        return (field, op, None)
    if op == "between":
        if not isinstance(operand, (list, tuple)) or len(operand) != 2:
            raise ValidationError(f"{label} takes [low, high]")
        return (field, op, (_check_scalar(kind, operand[0], label), _check_scalar(kind, operand[1], label)))
    if op == "in":
        if isinstance(operand, (str, bytes, dict)) or not isinstance(operand, (list, tuple, set, frozenset)):
            raise ValidationError(f"{label} takes a list of values")
        values = []
        for item in operand:
            item = _check_scalar(kind, item, label)
            if all(type(v) is not type(item) or v != item for v in values):
                values.append(item)
        if not values or len(values) > MAX_IN_VALUES:
            raise ValidationError(f"{label} takes 1 to {MAX_IN_VALUES} values")
        return (field, op, tuple(values))
    if op == "startswith" and kind not in _TEXT_KINDS:
        raise ValidationError(f"{label}: startswith applies to Text fields")
    return (field, op, _check_scalar(kind, operand, label))


def _key(value) -> tuple:
    return (rank(value), value)


def matches(value, op: str, operand) -> bool:
    """Whether a stored value (None: not set) passes the filter."""
    if op == "==":
        return type(value) is type(operand) and value == operand if operand is not None else value is None
    if op == "!=":
        return not matches(value, "==", operand)
    if value is None or type(value) not in (bool, int, float, str):
        return False
    if op == "in":
        return any(matches(value, "==", item) for item in operand)
    if op == "startswith":
        return type(value) is str and value.startswith(operand)
    key = _key(value)
    if op == "between":
        return _key(operand[0]) <= key <= _key(operand[1])
    bound = _key(operand)
    if op == "<":
        return key < bound
    if op == "<=":
        return key <= bound
    if op == ">":
        return key > bound
    return key >= bound


_COMPARED = (bool, int, float, str)
_RANK = {kind: rank(kind()) for kind in _COMPARED}
"""rank() of each class of value a range filter compares (a subscript here instead of a call)."""


def predicate(op: str, operand):
    """`matches(value, op, operand)` as a function of `value` alone, with what depends on the operand
    worked out once (its sort key, its type): a query checks it on every candidate."""
    if op == "==":
        if operand is None:
            return _is_none
        kind = type(operand)
        return lambda value: type(value) is kind and value == operand
    if op == "!=":
        equal = predicate("==", operand)
        return lambda value: not equal(value)
    if op == "in":
        return lambda value: type(value) in _COMPARED and any(matches(value, "==", item) for item in operand)
    if op == "startswith":
        return lambda value: type(value) is str and value.startswith(operand)
    if op == "between":
        low, high = _key(operand[0]), _key(operand[1])
        return lambda value: type(value) in _COMPARED and low <= (_RANK[type(value)], value) <= high
    bound = _key(operand)
    if op == "<":
        return lambda value: type(value) in _COMPARED and (_RANK[type(value)], value) < bound
    if op == "<=":
        return lambda value: type(value) in _COMPARED and (_RANK[type(value)], value) <= bound
    if op == ">":
        return lambda value: type(value) in _COMPARED and (_RANK[type(value)], value) > bound
    return lambda value: type(value) in _COMPARED and (_RANK[type(value)], value) >= bound


def _is_none(value) -> bool:
    return value is None


def _successor(prefix: str):
    """The least text greater than every text starting with `prefix` (None: no such text)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


def _low(index, value, inclusive: bool) -> tuple:
    """A lower range end at `value` (inclusive or not), widened when the index shortens the value."""
    stored = index.key(value)
    if stored != value:
        return ((rank(stored), stored), True)
    return ((rank(value), value), True) if inclusive else ((rank(value), value, ID_CEILING), False)


def _high(index, value, inclusive: bool) -> tuple:
    stored = index.key(value)
    if stored != value:
        return ((rank(stored), stored, ID_CEILING), True)
    return ((rank(value), value, ID_CEILING), True) if inclusive else ((rank(value), value), False)


def ranges(index, op: str, operand) -> list:
    """Ranges (low, low inclusive, high, high inclusive) of sort keys (None: unbounded) holding every
    entry that can match; in ascending order, not overlapping."""
    if op == "==":
        return [_low(index, operand, True) + _high(index, operand, True)]
    if op == "in":
        out = []
        for value in sorted(operand, key=_key):
            part = _low(index, value, True) + _high(index, value, True)
            if out and part[0] <= out[-1][2]:
                out[-1] = out[-1][:2] + part[2:]
            else:
                out.append(part)
        return out
    if op == "between":
        low, high = operand
        if _key(low) > _key(high):
            return []
        return [_low(index, low, True) + _high(index, high, True)]
    if op == "startswith":
        following = _successor(operand)
        high = (None, False) if following is None else _high(index, following, False)
        return [_low(index, operand, True) + high]
    if op in ("<", "<="):
        return [(None, False) + _high(index, operand, op == "<=")]
    if op in (">", ">="):
        return [_low(index, operand, op == ">=") + (None, False)]
    raise ValidationError(f"{op} cannot use an index")


def intersect(first: list, second: list) -> list:
    """The ranges holding keys in both lists of ranges."""
    out = []
    for a in first:
        for b in second:
            part = _meet(a, b)
            if part is not None:
                out.append(part)
    out.sort(key=lambda r: (r[0] is not None, r[0] or ()))
    return out


def _meet(a: tuple, b: tuple):
    low, low_in = _tighter(a[0], a[1], b[0], b[1], lower=True)
    high, high_in = _tighter(a[2], a[3], b[2], b[3], lower=False)
    if low is not None and high is not None:
        if low > high or (low == high and not (low_in and high_in)):
            return None
    return (low, low_in, high, high_in)


def _tighter(x, x_in, y, y_in, lower: bool) -> tuple:
    if x is None:
        return y, y_in
    if y is None or x == y:
        return x, (x_in and y_in) if y is not None else x_in
    if (x > y) == lower:
        return x, x_in
    return y, y_in
