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
# JSON text outside strings, other than brackets: deleted before the brackets are walked
_NOT_BRACKETS = str.maketrans("", "", "0123456789,:.-+eEtrufalsnNIiy \t\n\r")


def check_nesting(data: str) -> None:
    """Refuse JSON text whose arrays and objects nest deeper than MAX_DEPTH, before any parser sees it.
    Only whole-string operations touch the text (linear on Kybra's RustPython too): escaped backslashes
    and quotes are removed, the text is split at the quotes, and the brackets outside strings walked."""
    unquoted = data.replace("\\\\", "").replace('\\"', "").split('"')[::2]
    depth = 0
    for piece in unquoted:
        for char in piece.translate(_NOT_BRACKETS):
            if char == "[" or char == "{":
                depth += 1
                if depth > MAX_DEPTH:
                    raise invalid("restore data nests deeper than " + str(MAX_DEPTH) + " levels")
            elif char == "]" or char == "}":
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

    def check(self, record) -> dict:
        """The record with its fields in stored form (defaults applied), or ApiError naming the fault."""
        if not isinstance(record, dict) or not isinstance(record.get("type"), str):
            raise invalid("restore: each record must be an object with a type")
        plain = self.registry.get(record["type"])
        if "links_of" in record:
            return self._continuation(plain, record)
        if "id" not in record and "max_id" in record:
            _int(record["max_id"], "max_id", 0, api_limits.MAX_INT)
            return record
        label = record["type"] + " " + str(record.get("id"))[:30]
        _int(record.get("id"), "the id of " + label, 1, api_limits.MAX_INT)
        given = []
        for name, value in _mapping(record.get("fields"), "fields of " + label).items():
            field = self.registry.field(plain["name"], name)
            given.append({"name": name, "value": {"Null": None} if value is None else {field["kind"]: value}})
            if field["kind"] == "Principal" and value is not None:
                self._principal(value, "field " + name + " of " + label)
        try:
            checked = dict(record, fields=self.values(plain, given, True))
        except ApiError as error:
            error.message = "restore: " + label + ": " + error.message
            raise
        self._refs(plain, record, label)
        self._links(plain, record, label)
        self._more_links(record, label)
        self._partners(plain, record, label)
        owner = self._principal(record.get("owner"), "owner of " + label)
        if owner == ANONYMOUS:
            raise invalid("restore: the anonymous principal cannot own " + label)
        self._principal(record.get("creator"), "creator of " + label)
        self._principal(record.get("updater"), "updater of " + label)
        created = _int(record.get("created"), "created of " + label, 0, api_limits.MAX_NAT64)
        _int(
            record.get("updated"),
            "updated of " + label + " (at least created, at most now)",
            created,
            self.now,
        )
        _int(record.get("version"), "version of " + label, 1, api_limits.MAX_NAT64)
        return checked

    def _principal(self, text, what: str) -> str:
        try:
            valid = isinstance(text, str) and self.principal(text).to_str() == text
        except Exception:
            valid = False
        if not valid:
            raise invalid("restore: " + what + " is not a principal's text form")
        return text

    def _continuation(self, plain: dict, record: dict) -> dict:
        """A record that goes on with the links of an entity restored from an earlier record (the engine
        takes it only for an entity whose record announced `more_links`, past the links it has)."""
        label = record["type"] + " " + str(record.get("links_of"))[:30]
        for key in record:
            if key not in CONTINUATION_KEYS:
                raise invalid("restore: the continuation of " + label + " holds only links, not "
                              + str(key)[:80])
        _int(record["links_of"], "links_of of " + label, 1, api_limits.MAX_INT)
        self._links(plain, record, label)
        self._more_links(record, label)
        return record

    def _refs(self, plain: dict, record: dict, label: str) -> None:
        kinds = {r["name"]: r["kind"] for r in self.registry.relations(plain["name"])}
        for name, target in _mapping(record.get("refs"), "refs of " + label).items():
            if kinds.get(name) not in typedef_rules.TO_ONE:
                raise invalid("restore: " + plain["name"] + " has no to-one relation " + str(name)[:80])
            if target is not None:
                _int(target, "ref " + name + " of " + label, 1, api_limits.MAX_INT)

    def _links(self, plain: dict, record: dict, label: str) -> None:
        kinds = {r["name"]: r["kind"] for r in self.registry.relations(plain["name"])}
        for name, ids in _mapping(record.get("links"), "links of " + label).items():
            if kinds.get(name) != "ManyToMany":
                # a dump lists many-to-many links only; one-to-many sets come back from the refs
                raise invalid("restore: " + plain["name"] + " has no many-to-many relation " + str(name)[:80])
            if not isinstance(ids, list):
                raise invalid("restore: links " + name + " of " + label + " must be a list")
            for target in ids:
                if type(target) is not int or target < 1 or target > api_limits.MAX_INT:
                    _int(target, "a link " + name + " of " + label, 1, api_limits.MAX_INT)

    @staticmethod
    def _more_links(record: dict, label: str) -> None:
        if not isinstance(record.get("more_links", False), bool):
            raise invalid("restore: more_links of " + label + " must be true or false")

    def _partners(self, plain: dict, record: dict, label: str) -> None:
        """A OneToOne ref to an entity that exists already must be that entity's ref back (as a dump
        restored in order gives), so a restore never leaves a one-sided pair."""
        for r in self.registry.relations(plain["name"]):
            target = (record.get("refs") or {}).get(r["name"])
            if r["kind"] != "OneToOne" or target is None:
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
