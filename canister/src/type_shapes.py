"""What the service looks up in one type's definition on every message, derived once per schema change.

A TypeShape holds a type's field checks by name, the fields and to-one relations of its replies, the
values a create fills in and its relations by name. The schema registry keeps one per type until the
schema changes: on Kybra's RustPython a Python call costs 6,000-15,000 instructions and an attribute
read about 6,000, so walking the definition (and calling a lookup per field) in every create, update
and get was a measurable share of them.
"""

import math

import api_limits
import typedef_rules

INLINE_TYPES = {"Text": str, "Int": int}  # kinds whose stored value of this exact type is its Candid payload


class TypeShape:
    """Lookups derived from a plain type definition (typedef_rules) and its effective relations."""

    def __init__(self, plain: dict, relations: list):
        self.plain = plain
        self.name = plain["name"]
        self.policy = plain["policy"]
        fields = plain["fields"]
        self.field_count = len(fields)
        # name -> (field, kind, low, high, longest text): see `_checks`
        self.checks = {f["name"]: _checks(f) for f in fields}
        # name -> (Python type, kind, low, high) of the Text and Int fields: a value {kind: payload} whose
        # payload is of exactly that type and whose length (Text) or value (Int) lies in [low, high]
        # passes every check of the field, and is stored as given (`DbApi._values` takes it inline)
        self.inline = {
            name: (INLINE_TYPES[kind], kind, low, high)
            for name, (_, kind, low, high, _) in self.checks.items()
            if kind in INLINE_TYPES
        }
        # (name, kind, the Python type a stored value of the kind that replies as itself has, else None)
        self.reply_fields = [(f["name"], f["kind"], INLINE_TYPES.get(f["kind"])) for f in fields]
        # (name, default, required) of the fields a create may have to fill in (or refuse without)
        self.fills = [
            (f["name"], f["default"], f["required"])
            for f in fields
            if f["default"] is not None or f["required"]
        ]
        self.relations = {r["name"]: r for r in relations}
        # a name both a field and a relation (the schema rules refuse it): `_create` splits refs off first
        self.field_relations = any(name in self.checks for name in self.relations)
        self.to_one = [(r["name"], r["target"]) for r in relations if r["kind"] in typedef_rules.TO_ONE]
        self.most_given = len(fields) + len(self.relations)  # names a create may give: fields and relations


def _checks(field: dict) -> tuple:
    """(field, kind, low, high, longest text) for `DbApi._values`. A Text value whose length, or an Int
    value that, lies in [low, high] passes every check of the field (its kind's range, min and max);
    `longest` is the length `stored_from_value` allows a Text value."""
    kind, low, high = field["kind"], field["min"], field["max"]
    longest = int(high or api_limits.MAX_TEXT) if kind == "Text" else api_limits.MAX_TEXT
    if kind == "Text":
        return (field, kind, 0 if low is None else math.ceil(low),
                longest if high is None else min(longest, math.floor(high)), longest)
    if kind == "Int":
        return (field, kind, api_limits.MIN_INT if low is None else max(api_limits.MIN_INT, math.ceil(low)),
                api_limits.MAX_INT if high is None else min(api_limits.MAX_INT, math.floor(high)), longest)
    return field, kind, None, None, longest
