"""query_filters.predicate(op, operand) is `matches(value, op, operand)` as a function of the value (the
operand's part worked out once per query): the same answer for every operator, value and operand kind."""

import itertools

from kybra_simple_db.query_filters import OPERATORS, matches, predicate

VALUES = [None, False, True, -2, 0, 1, 3, 2**70, -1.5, 0.0, 1.0, 2.5, "", "a", "ab", "b", "é", "\U0001f600",
          [1], {"a": 1}, b"a"]
SCALARS = [v for v in VALUES if type(v) in (bool, int, float, str)]


def _operands(op: str) -> list:
    if op == "between":
        return [(low, high) for low, high in itertools.product(SCALARS, SCALARS)]
    if op == "in":
        return [tuple(SCALARS[i:i + 3]) for i in range(len(SCALARS))]
    if op == "startswith":
        return [v for v in SCALARS if type(v) is str]
    return SCALARS + ([None] if op in ("==", "!=") else [])


def test_predicate_is_matches_for_every_operator_value_and_operand():
    checked = 0
    for op in OPERATORS:
        for operand in _operands(op):
            check = predicate(op, operand)
            for value in VALUES:
                assert check(value) == matches(value, op, operand), (value, op, operand)
                checked += 1
    assert checked > 5000
