"""What a restore page must satisfy before the engine writes any of it.

Each record's fields pass the checks `create` applies (kinds, ranges, lengths, bounds, required fields
and defaults), and the metadata only restore may set is checked too: ids, owners, creators and updaters
(canonical principal text; never the anonymous principal as owner), times (nat64, created <= updated
<= now), versions (1 ... 2^64-1), refs and links (relations of the type, ids in range). A continuation
record (`links_of`, dump format /2) holds nothing but links of that kind; the engine takes it only for
an entity whose restored record announced `more_links`. JSON nesting is bounded before parsing, so no
page can make the parser (or a later read) recurse deeply.
"""

import api_limits
import typedef_rules
from admin_registry import ANONYMOUS
from error_map import ApiError, conflict, invalid

CONTINUATION_KEYS = ("type", "links_of", "links", "more_links")
MAX_DEPTH = 8  # a dump page nests 6 deep at most (page, schema, type, fields, field, value)
# every byte but the brackets' (what is left of JSON text once these are deleted is its brackets)
_NOT_BRACKETS = bytes(code for code in range(256) if code not in b"[]{}")
_OPENERS = (ord("["), ord("{"))


def check_nesting(data: str) -> None:
    """Refuse JSON text whose arrays and objects nest deeper than MAX_DEPTH, before any parser sees it.
    Only whole-string operations touch the text (linear on Kybra's RustPython too): escaped backslashes
    and quotes are removed, the text is split at the quotes, its brackets outside strings kept (in UTF-8,
    where no other character has a bracket's byte) and walked."""
    unquoted = data.replace("\\\\", "").replace('\\"', "").split('"')[::2]
    brackets = "".join(unquoted).encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= MAX_DEPTH:   # (fewer openers: no walk needed)
        return
    depth = 0
    opening = _OPENERS
    for byte in brackets:
        if byte in opening:
            depth += 1
            if depth > MAX_DEPTH:
                raise invalid("restore data nests deeper than " + str(MAX_DEPTH) + " levels")
        else:
            depth -= 1


def _int(value, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or value > high:
        raise invalid("restore: " + what + " must be an integer from " + str(low) + " to " + str(high))
    return value


def _mapping(value, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid("restore: " + what + " must be an object")
    return value


class _TypeRules:
    """What the checks of one type's records look up, worked out once per restore page: its plain
    definition, its fields by name and its relations' kinds (a record's checks asked the registry for
    them again for every record and field)."""

    def __init__(self, registry, plain: dict):
        self.plain = plain
        self.fields = {}
        for field in plain["fields"]:
            self.fields.setdefault(field["name"], field)   # (the first of a name, as registry.field finds)
        relations = registry.relations(plain["name"])
        self.kinds = {r["name"]: r["kind"] for r in relations}
        self.one_to_one = [r for r in relations if r["kind"] == "OneToOne"]


class RestoreRules:
    """Checks records against the schema. `values(plain, fields, True)` is the create path's field
    check (DbApi._values); `principal(text)` parses principal text (raises on a bad one); `load(type,
    id)` is the stored record of an entity or None."""

    def __init__(self, registry, values, principal, now: int, load):
        self.registry = registry
        self.load = load
        self.values = values
        self.principal = principal
        self.now = now
        self._types = {}   # type name -> _TypeRules
        self._principals = set()   # texts found to be a principal's text form

    def _type(self, type_name: str) -> _TypeRules:
        try:
            return self._types[type_name]
        except KeyError:
            pass
        rules = _TypeRules(self.registry, self.registry.get(type_name))   # (NotFound for an unknown type)
        self._types[type_name] = rules
        return rules

    def check(self, record) -> dict:
        """The record with its fields in stored form (defaults applied), or ApiError naming the fault."""
        if not isinstance(record, dict) or not isinstance(record.get("type"), str):
            raise invalid("restore: each record must be an object with a type")
        rules = self._type(record["type"])
        plain = rules.plain
        if "links_of" in record:
            return self._continuation(rules, record)
        if "id" not in record and "max_id" in record:
            _int(record["max_id"], "max_id", 0, api_limits.MAX_INT)
            return record
        label = record["type"] + " " + str(record.get("id"))[:30]
        # (each check in line first, its message made only for a refusal: calls and text cost on RustPython)
        value = record.get("id")
        if value.__class__ is not int or value < 1 or value > api_limits.MAX_INT:
            _int(value, "the id of " + label, 1, api_limits.MAX_INT)
        given = []
        fields = rules.fields
        values = record.get("fields")
        if values.__class__ is not dict:
            values = _mapping(values, "fields of " + label)
        for name, value in values.items():
            try:
                field = fields[name]
            except (KeyError, TypeError):
                field = self.registry.field(plain["name"], name)   # raises: the type has no such field
            kind = field["kind"]
            given.append({"name": name, "value": {"Null": None} if value is None else {kind: value}})
            if kind == "Principal" and value is not None:
                self._principal(value, "field " + name + " of " + label)
        try:
            checked = dict(record, fields=self.values(plain, given, True))
        except ApiError as error:
            error.message = "restore: " + label + ": " + error.message
            raise
        value = record.get("refs")
        if value is not None and (value.__class__ is not dict or value):   # (none: nothing to check)
            self._refs(rules, record, label)
        value = record.get("links")
        if value is not None and (value.__class__ is not dict or value):
            self._links(rules, record, label)
        value = record.get("more_links", False)
        if value is not True and value is not False:
            self._more_links(record, label)
        if rules.one_to_one:
            self._partners(rules, record, label)
        known = self._principals
        owner = record.get("owner")
        if owner.__class__ is not str or owner not in known:
            self._principal(owner, "owner of " + label)
        if owner == ANONYMOUS:
            raise invalid("restore: the anonymous principal cannot own " + label)
        for key in ("creator", "updater"):
            value = record.get(key)
            if value.__class__ is not str or value not in known:
                self._principal(value, key + " of " + label)
        created = record.get("created")
        if created.__class__ is not int or created < 0 or created > api_limits.MAX_NAT64:
            _int(created, "created of " + label, 0, api_limits.MAX_NAT64)
        value = record.get("updated")
        if value.__class__ is not int or value < created or value > self.now:
            _int(value, "updated of " + label + " (at least created, at most now)", created, self.now)
        value = record.get("version")
        if value.__class__ is not int or value < 1 or value > api_limits.MAX_NAT64:
            _int(value, "version of " + label, 1, api_limits.MAX_NAT64)
        return checked

    def _principal(self, text, what: str) -> str:
        if text.__class__ is str and text in self._principals:   # (owners repeat across a page's records)
            return text
        try:
            valid = isinstance(text, str) and self.principal(text).to_str() == text
        except Exception:
            valid = False
        if not valid:
            raise invalid("restore: " + what + " is not a principal's text form")
        if text.__class__ is str:
            self._principals.add(text)
        return text

    def _continuation(self, rules: _TypeRules, record: dict) -> dict:
        """A record that goes on with the links of an entity restored from an earlier record (the engine
        takes it only for an entity whose record announced `more_links`, past the links it has)."""
        label = record["type"] + " " + str(record.get("links_of"))[:30]
        for key in record:
            if key not in CONTINUATION_KEYS:
                raise invalid("restore: the continuation of " + label + " holds only links, not "
                              + str(key)[:80])
        _int(record["links_of"], "links_of of " + label, 1, api_limits.MAX_INT)
        self._links(rules, record, label)
        self._more_links(record, label)
        return record

    @staticmethod
    def _refs(rules: _TypeRules, record: dict, label: str) -> None:
        kinds = rules.kinds
        for name, target in _mapping(record.get("refs"), "refs of " + label).items():
            if kinds.get(name) not in typedef_rules.TO_ONE:
                raise invalid("restore: " + rules.plain["name"] + " has no to-one relation " + str(name)[:80])
            if target is not None:
                _int(target, "ref " + name + " of " + label, 1, api_limits.MAX_INT)

    @staticmethod
    def _links(rules: _TypeRules, record: dict, label: str) -> None:
        kinds = rules.kinds
        for name, ids in _mapping(record.get("links"), "links of " + label).items():
            if kinds.get(name) != "ManyToMany":
                # a dump lists many-to-many links only; one-to-many sets come back from the refs
                raise invalid("restore: " + rules.plain["name"] + " has no many-to-many relation "
                              + str(name)[:80])
            if not isinstance(ids, list):
                raise invalid("restore: links " + name + " of " + label + " must be a list")
            for target in ids:
                if type(target) is not int or target < 1 or target > api_limits.MAX_INT:
                    _int(target, "a link " + name + " of " + label, 1, api_limits.MAX_INT)

    @staticmethod
    def _more_links(record: dict, label: str) -> None:
        if not isinstance(record.get("more_links", False), bool):
            raise invalid("restore: more_links of " + label + " must be true or false")

    def _partners(self, rules: _TypeRules, record: dict, label: str) -> None:
        """A OneToOne ref to an entity that exists already must be that entity's ref back (as a dump
        restored in order gives), so a restore never leaves a one-sided pair."""
        for r in rules.one_to_one:
            target = (record.get("refs") or {}).get(r["name"])
            if target is None:
                continue
            other = self.load(r["target"], target)
            if other is not None and other["refs"].get(r["reverse"]) != record["id"]:
                raise conflict(
                    "restore: "
                    + label
                    + " links "
                    + r["name"]
                    + " to "
                    + r["target"]
                    + " "
                    + str(target)
                    + ", which is linked to another"
                )
