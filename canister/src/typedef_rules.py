"""Type definitions: validation of a Candid TypeDef into a plain, JSON-storable form, the way back,
and the check that tells additive schema changes from destructive ones.

Plain form: {"name", "fields": [{"name", "kind", "required", "default", "min", "max", "indexed"}],
"alias", "relations": [{"name", "kind", "target", "reverse", "on_delete"}], "policy": {...}} with
variant cases as strings and defaults in their stored form (value_codec).
"""

import math

import api_limits
from error_map import invalid, limit
from value_codec import KINDS, stored_from_value, variant_case

RELATION_KINDS = ("OneToOne", "OneToMany", "ManyToOne", "ManyToMany")
TO_ONE = ("OneToOne", "ManyToOne")
REVERSE_KIND = {
    "OneToOne": "OneToOne",
    "OneToMany": "ManyToOne",
    "ManyToOne": "OneToMany",
    "ManyToMany": "ManyToMany",
}
ON_DELETE = ("SetNull", "Cascade", "Restrict")
POLICY_CASES = {
    "read": ("Public", "Owner", "Admins"),
    "create": ("Anyone", "Admins"),
    "modify": ("Owner", "Admins"),
    "delete": ("Owner", "Admins"),
}
# Names the engine or the Entity record use for metadata; a field or relation may not take them.
RESERVED = (
    "id",
    "type_name",
    "owner",
    "creator",
    "updater",
    "created_at",
    "updated_at",
    "version",
    "timestamp_created",
    "timestamp_updated",
    "fields",
    "refs",
    "delete",
    "save",
    "load",
    "count",
)
ORDERED_KINDS = ("Int", "Float", "Timestamp")
IDENT_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
IDENT_REST = IDENT_FIRST + "0123456789"


def check_identifier(name: str, what: str) -> None:
    """A name made of letters, digits and `_`, not starting with a digit or `_`, at most MAX_NAME long."""
    if not isinstance(name, str) or not name:
        raise invalid(what + " must not be empty")
    if len(name) > api_limits.MAX_NAME:
        raise invalid(what + " " + name[:80] + " is longer than " + str(api_limits.MAX_NAME) + " characters")
    if name[0] not in IDENT_FIRST or name[0] == "_" or any(c not in IDENT_REST for c in name):
        raise invalid(what + " " + repr(name[:80]) + " must be letters, digits and _, starting with a letter")


def check_type_name(name: str) -> None:
    """`Name` or `namespace::Name`."""
    if not isinstance(name, str) or not name:
        raise invalid("type name must not be empty")
    parts = name.split("::")
    if len(parts) > 2:
        raise invalid("type name " + repr(name[:80]) + " has more than one ::")
    for part in parts:
        check_identifier(part, "type name part")


def _case(value: dict, allowed: tuple, what: str) -> str:
    tag, _ = variant_case(value, what)
    if tag not in allowed:
        raise invalid(what + " must be one of " + ", ".join(allowed))
    return tag


def _field(raw: dict, alias: object) -> dict:
    name = raw["name"]
    check_identifier(name, "field name")
    if name in RESERVED:
        raise invalid("field name " + name + " is reserved")
    kind = _case(raw["kind"], KINDS, "kind of field " + name)
    indexed = bool(raw["indexed"])
    low, high = raw["min"], raw["max"]
    if kind in ("Bool", "Principal") and (low is not None or high is not None):
        raise invalid("field " + name + ": min/max apply to Text, Int, Float and Timestamp only")
    if kind == "Text":
        cap = api_limits.MAX_INDEXED_TEXT if indexed or alias == name else api_limits.MAX_TEXT
        if high is None:
            high = float(cap)
        if high > cap:
            raise invalid("field " + name + ": max length is at most " + str(cap))
        if low is not None and low < 0:
            raise invalid("field " + name + ": min length must not be negative")
    if kind == "Timestamp" and low is not None and low < 0:
        raise invalid("field " + name + ": timestamps are not negative")
    for bound in (low, high):
        if bound is not None and (bound != bound or bound in (float("inf"), float("-inf"))):
            raise invalid("field " + name + ": min and max must be finite")
    if low is not None and high is not None and low > high:
        raise invalid("field " + name + ": min is greater than max")
    if kind == "Text" and high < 0:
        raise invalid("field " + name + ": max length must not be negative")
    whole = kind in ("Text", "Int", "Timestamp")  # lengths, integers and nanoseconds are whole numbers
    if whole and low is not None and high is not None and math.ceil(low) > math.floor(high):
        raise invalid("field " + name + ": no value fits (no whole number lies between min and max)")
    field = {
        "name": name,
        "kind": kind,
        "required": bool(raw["required"]),
        "default": None,
        "min": None if low is None else float(low),
        "max": None if high is None else float(high),
        "indexed": indexed,
    }
    if raw["default"] is not None:
        default = stored_from_value(kind, raw["default"], name)
        if default is not None:
            check_bounds(field, default)
        field["default"] = default
    return field


def check_bounds(field: dict, stored: object) -> None:
    """A stored value against the field's min/max (Text: length; ordered kinds: value)."""
    low, high, name = field["min"], field["max"], field["name"]
    if field["kind"] == "Text":
        size = len(stored)
        if low is not None and size < low:
            raise invalid("field " + name + " is shorter than " + _num(low) + " characters")
        if high is not None and size > high:
            raise invalid("field " + name + " is longer than " + _num(high) + " characters")
    elif field["kind"] in ORDERED_KINDS:
        if low is not None and stored < low:
            raise invalid("field " + name + " is below the minimum " + _num(low))
        if high is not None and stored > high:
            raise invalid("field " + name + " is above the maximum " + _num(high))


def _num(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) else str(bound)


def _relation(raw: dict) -> dict:
    name = raw["name"]
    check_identifier(name, "relation name")
    if name in RESERVED:
        raise invalid("relation name " + name + " is reserved")
    check_type_name(raw["target"])
    check_identifier(raw["reverse"], "reverse name of " + name)
    return {
        "name": name,
        "kind": _case(raw["kind"], RELATION_KINDS, "kind of relation " + name),
        "target": raw["target"],
        "reverse": raw["reverse"],
        "on_delete": _case(raw["on_delete"], ON_DELETE, "on_delete of relation " + name),
    }


def normalize(raw: dict) -> dict:
    """The plain form of a Candid TypeDef, or ApiError(Invalid/Limit) naming the first problem."""
    check_type_name(raw["name"])
    if len(raw["fields"]) > api_limits.MAX_FIELDS:
        raise limit("a type has at most " + str(api_limits.MAX_FIELDS) + " fields")
    if len(raw["relations"]) > api_limits.MAX_RELATIONS:
        raise limit("a type has at most " + str(api_limits.MAX_RELATIONS) + " relations")
    alias = raw["alias"]
    fields = [_field(f, alias) for f in raw["fields"]]
    relations = [_relation(r) for r in raw["relations"]]
    names = [f["name"] for f in fields] + [r["name"] for r in relations]
    for name in names:
        if names.count(name) > 1:
            raise invalid("name " + name + " is used twice in " + raw["name"])
    if alias is not None:
        matching = [f for f in fields if f["name"] == alias]
        if not matching or matching[0]["kind"] != "Text":
            raise invalid("alias " + str(alias) + " must name a Text field of " + raw["name"])
    policy = {}
    for key in ("read", "create", "modify", "delete"):
        policy[key] = _case(raw["policy"][key], POLICY_CASES[key], "policy " + key)
    certified = raw["policy"].get("certified")
    if certified is not None and not isinstance(certified, bool):
        raise invalid("policy certified must be a bool")
    if certified:
        policy["certified"] = True  # absent when off, so definitions stored before the flag compare equal
    return {"name": raw["name"], "fields": fields, "alias": alias, "relations": relations, "policy": policy}


def to_candid(plain: dict, codec) -> dict:
    """The Candid TypeDef of a plain type definition."""
    fields = []
    for f in plain["fields"]:
        default = None if f["default"] is None else codec.value(f["kind"], f["default"])
        fields.append(
            {
                "name": f["name"],
                "kind": {f["kind"]: None},
                "required": f["required"],
                "default": default,
                "min": f["min"],
                "max": f["max"],
                "indexed": f["indexed"],
            }
        )
    relations = [
        {
            "name": r["name"],
            "kind": {r["kind"]: None},
            "target": r["target"],
            "reverse": r["reverse"],
            "on_delete": {r["on_delete"]: None},
        }
        for r in plain["relations"]
    ]
    policy = {}
    for key in ("read", "create", "modify", "delete"):
        policy[key] = {plain["policy"][key]: None}
    policy["certified"] = bool(plain["policy"].get("certified"))
    return {
        "name": plain["name"],
        "fields": fields,
        "alias": plain["alias"],
        "relations": relations,
        "policy": policy,
    }


def _looser_or_equal(old: dict, new: dict) -> bool:
    """True when every value valid for `old` is valid for `new`."""
    if new["min"] is not None and (old["min"] is None or new["min"] > old["min"]):
        return False
    return not (new["max"] is not None and (old["max"] is None or new["max"] < old["max"]))


def rendering_changes(old: dict, new: dict) -> list:
    """Why existing entities would read differently after replacing `old` with `new` (a field or relation
    removed, or its kind or target changed): certified entities would no longer match their hashes."""
    reasons = []
    new_fields = {f["name"]: f for f in new["fields"]}
    for before in old["fields"]:
        after = new_fields.get(before["name"])
        if after is None or after["kind"] != before["kind"]:
            reasons.append("removes or changes the kind of field " + before["name"])
    new_relations = {r["name"]: r for r in new["relations"]}
    for before in old["relations"]:
        after = new_relations.get(before["name"])
        if after is None or (after["kind"], after["target"]) != (before["kind"], before["target"]):
            reasons.append("removes or changes relation " + before["name"])
    return reasons


def destructive_changes(old: dict, new: dict) -> list:
    """Why replacing `old` with `new` could invalidate stored data or callers; empty when purely additive.

    Additive: new optional (or defaulted) fields, new relations, looser bounds, a new index or alias (the
    registry allows those only while the type is empty), policy and delete-policy changes.
    """
    reasons = []
    old_fields = {f["name"]: f for f in old["fields"]}
    new_fields = {f["name"]: f for f in new["fields"]}
    for name, before in old_fields.items():
        after = new_fields.get(name)
        if after is None:
            reasons.append("removes field " + name)
            continue
        if after["kind"] != before["kind"]:
            reasons.append("changes the kind of field " + name)
        if after["required"] and not before["required"] and after["default"] is None:
            reasons.append("makes field " + name + " required")
        if not _looser_or_equal(before, after):
            reasons.append("tightens the bounds of field " + name)
        if before["indexed"] and not after["indexed"]:
            reasons.append("drops the index of field " + name)
    for name, after in new_fields.items():
        if name not in old_fields and after["required"] and after["default"] is None:
            reasons.append("adds required field " + name + " without a default")
    if old["alias"] is not None and new["alias"] != old["alias"]:
        reasons.append("changes the alias")
    old_relations = {r["name"]: r for r in old["relations"]}
    new_relations = {r["name"]: r for r in new["relations"]}
    for name, before in old_relations.items():
        after = new_relations.get(name)
        if after is None:
            reasons.append("removes relation " + name)
        elif (after["kind"], after["target"], after["reverse"]) != (
            before["kind"],
            before["target"],
            before["reverse"],
        ):
            reasons.append("changes relation " + name)
    return reasons
