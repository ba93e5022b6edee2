"""What the service looks up in one type's definition on every message, derived once per schema change.

A TypeShape holds a type's field checks by name, the fields and to-one relations of its replies, the
values a create fills in and its relations by name. The schema registry keeps one per type and
schema generation: on Kybra's RustPython a Python call costs about 9,000 instructions, so walking the
definition (and calling a lookup per field) in every create, update and get was a measurable share of
them.
"""

import api_limits
import typedef_rules

BOUNDED_KINDS = ("Text",) + typedef_rules.ORDERED_KINDS  # kinds whose min/max `check_bounds` applies


class TypeShape:
    """Lookups derived from a plain type definition (typedef_rules) and its effective relations."""

    def __init__(self, plain: dict, relations: list, generation: int):
        self.generation = generation
        self.plain = plain
        self.name = plain["name"]
        self.policy = plain["policy"]
        fields = plain["fields"]
        self.field_count = len(fields)
        # name -> (field, kind, longest text, min, max): what `DbApi._values` checks a given value against
        self.checks = {}
        for f in fields:
            kind = f["kind"]
            longest = int(f["max"] or api_limits.MAX_TEXT) if kind == "Text" else api_limits.MAX_TEXT
            low, high = (f["min"], f["max"]) if kind in BOUNDED_KINDS else (None, None)
            self.checks[f["name"]] = (f, kind, longest, low, high)
        self.reply_fields = [(f["name"], f["kind"]) for f in fields]
        # (name, default, required) of the fields a create may have to fill in (or refuse without)
        self.fills = [
            (f["name"], f["default"], f["required"])
            for f in fields
            if f["default"] is not None or f["required"]
        ]
        self.relations = {r["name"]: r for r in relations}
        self.to_one = [(r["name"], r["target"]) for r in relations if r["kind"] in typedef_rules.TO_ONE]
        self.most_given = len(fields) + len(self.relations)  # names a create may give: fields and relations
