"""The schema: every type (declared in models.py or at runtime by an admin), kept in the meta map and
turned into engine classes through the gateway. Reverse relations are derived here: a relation declared
on A with reverse name r appears on its target B as r, with the mirrored kind.

Meta keys: "types" (JSON list of runtime type names, in definition order) and "type/<name>" (the
plain type definition, see typedef_rules).
"""

import json

import api_limits
import typedef_rules
from error_map import conflict, invalid, limit, not_found
from type_shapes import TypeShape

TYPES_KEY = "types"
TYPE_PREFIX = "type/"


class SchemaRegistry:
    """Types by qualified name, with their effective relations; the heap copy mirrors the meta map."""

    def __init__(self, meta, gateway, python_types: list):
        self.meta = meta
        self.gateway = gateway
        self.types = {}
        self.order = []
        self.python_names = set()
        self.hooks = {}
        self.generation = 0  # bumped on every change, so a failed message knows to rebuild the heap view
        self.relation_cache = {}
        self.shapes = {}
        for plain, hook in python_types:
            self.types[plain["name"]] = plain
            self.order.append(plain["name"])
            self.python_names.add(plain["name"])
            self.hooks[plain["name"]] = hook
        raw = meta.get(TYPES_KEY)
        for name in json.loads(raw) if raw is not None else []:
            stored = meta.get(TYPE_PREFIX + name)
            if stored is None or name in self.python_names:
                continue
            self.types[name] = json.loads(stored)
            self.order.append(name)
        with self.gateway.defining_many():
            for name in self.order:
                self._build(name)
        self.warm_shapes()

    def _build(self, name: str) -> None:
        """(Re)define the engine class of `name` from its definition and effective relations."""
        self.gateway.define(self.types[name], self.relations(name), self.hooks.get(name))

    def names(self) -> list:
        return self.order[:]

    def get(self, name: str) -> dict:
        plain = self.types.get(name)
        if plain is None:
            raise not_found("unknown type " + str(name)[:100])
        return plain

    def shape(self, name: str) -> TypeShape:
        """The TypeShape of `name` (NotFound as `get`), built once per schema generation (`_changed`
        drops them all)."""
        try:
            return self.shapes[name]   # (a subscript: a third of get() on Kybra's RustPython)
        except KeyError:
            pass
        found = TypeShape(self.get(name), self.relations(name))
        self.shapes[name] = found
        return found

    def warm_shapes(self) -> None:
        """Build every type's TypeShape now: the registry is made (an install, an upgrade, a failed
        message's reload) and changed only by messages whose heap persists, while a query's heap changes
        are dropped, so a shape a query builds is built again by every query until an update keeps one
        (~0.7M instructions a type on Kybra's RustPython)."""
        for name in self.order:
            self.shape(name)

    def _changed(self) -> None:
        """A new schema generation: relations are derived again, shapes built again."""
        self.generation += 1
        self.shapes = {}

    def all(self) -> list:
        return [self.types[name] for name in self.order]

    def relations(self, name: str) -> list:
        """Declared relations of `name` plus the reverse side of relations other types point at it.

        A RelationDef's on_delete says what happens to the declaring entity when its target is deleted
        (as SQL's ON DELETE), so the engine applies it on the reverse side ("engine_on_delete").
        Cached per schema generation: entity replies need them for every item of a page.
        """
        cached = self.relation_cache.get(name)
        if cached is not None and cached[0] == self.generation:
            return cached[1]
        result = []
        for r in self.types[name]["relations"]:
            symmetric = r["target"] == name and r["reverse"] == r["name"]
            engine_policy = r["on_delete"] if symmetric else "SetNull"
            result.append(dict(r, declared=True, engine_on_delete=engine_policy))
        for other in self.order:
            for r in self.types[other]["relations"]:
                if r["target"] == name and not (other == name and r["reverse"] == r["name"]):
                    result.append(
                        {
                            "name": r["reverse"],
                            "kind": typedef_rules.REVERSE_KIND[r["kind"]],
                            "target": other,
                            "reverse": r["name"],
                            "on_delete": r["on_delete"],
                            "declared": False,
                            "engine_on_delete": r["on_delete"],
                        }
                    )
        self.relation_cache[name] = (self.generation, result)
        return result

    def relation(self, name: str, relation: str) -> dict:
        for r in self.relations(name):
            if r["name"] == relation:
                return r
        raise not_found(name + " has no relation " + str(relation)[:100])

    def field(self, name: str, field: str) -> dict:
        for f in self.types[name]["fields"]:
            if f["name"] == field:
                return f
        raise invalid(name + " has no field " + str(field)[:100])

    def define(self, plain: dict, force: bool) -> None:
        """Add or change a runtime type; destructive changes need `force`; writes meta last."""
        name = plain["name"]
        if name in self.python_names:
            raise conflict(name + " is declared in models.py; change it there")
        old = self.types.get(name)
        if old is None and len(self.order) >= api_limits.MAX_TYPES:
            raise limit("at most " + str(api_limits.MAX_TYPES) + " types")
        if old is not None:
            reasons = typedef_rules.destructive_changes(old, plain)
            if reasons and not force:
                raise conflict("destructive change to " + name + " (" + "; ".join(reasons) + "); pass force")
            if self.gateway.count(name) > 0 and _changes_keys(old, plain):
                raise conflict(
                    name + " has entities: indexes and the alias can change only while it is empty"
                )
        self._check_relations(plain)
        encoded = _encoded(plain)
        previous = self.types.get(name)
        self._changed()
        self.types[name] = plain
        if previous is None:
            self.order.append(name)
        try:
            touched = [name] + [r["target"] for r in plain["relations"] if r["target"] != name]
            if previous is not None:
                touched += [r["target"] for r in previous["relations"] if r["target"] not in touched]
            for type_name in touched:
                self._build(type_name)
        except Exception:
            self._forget(name, previous)
            raise
        self._store({name: encoded})
        self.warm_shapes()

    def define_many(self, plains: list) -> None:
        """Add several new types at once (a restored schema), each checked as `define` checks a new
        type, and build each engine class once, when all are known: defining them one by one rebuilt
        a type that many others point at once per type (quadratic: 98 types with 16 relations each to
        one type passed the IC's 40B instructions in one restore). Writes meta last."""
        added = []
        encoded = {}
        self._changed()
        try:
            for plain in plains:
                name = plain["name"]
                if name in self.python_names:
                    raise conflict(name + " is declared in models.py; change it there")
                if name in self.types:
                    raise conflict("type " + name + " is defined twice")
                if len(self.order) >= api_limits.MAX_TYPES:
                    raise limit("at most " + str(api_limits.MAX_TYPES) + " types")
                encoded[name] = _encoded(plain)
                self.types[name] = plain
                self.order.append(name)
                added.append(name)
            names_on = {}
            for name in added:
                self._check_relations(self.types[name], names_on)
            touched = set(added)
            for name in added:
                touched.update(r["target"] for r in self.types[name]["relations"])
            with self.gateway.defining_many():
                for type_name in [n for n in self.order if n in touched]:
                    self._build(type_name)
        except Exception:  # the new generation makes the failed message rebuild the engine classes
            self._changed()
            for name in added:
                del self.types[name]
                self.order.remove(name)
            raise
        self._store(encoded)
        self.warm_shapes()

    def _store(self, encoded: dict) -> None:
        """Write the definitions (name -> JSON) of the types just defined, then the list of runtime types."""
        for name in encoded:
            self.meta.insert(TYPE_PREFIX + name, encoded[name])
        runtime = [n for n in self.order if n not in self.python_names]
        self.meta.insert(TYPES_KEY, json.dumps(runtime, separators=(",", ":")))

    def _forget(self, name: str, previous: object) -> None:
        self._changed()
        if previous is None:
            del self.types[name]
            self.order.remove(name)
        else:
            self.types[name] = previous

    def _check_relations(self, plain: dict, names_on: dict = None) -> None:
        """Targets exist (or are the type itself) and reverse names are free on their targets (`names_on`
        keeps the names used on each target across the checks of several types)."""
        names_on = {} if names_on is None else names_on
        name = plain["name"]
        own_names = {f["name"] for f in plain["fields"]} | {r["name"] for r in plain["relations"]}
        for r in plain["relations"]:
            target = r["target"]
            if target != name and target not in self.types:
                raise not_found("relation " + r["name"] + ": unknown target type " + target)
            if target == name:
                taken = own_names - {r["name"]} if r["reverse"] == r["name"] else own_names
                if r["reverse"] in taken and r["reverse"] != r["name"]:
                    raise conflict("reverse name " + r["reverse"] + " is already used on " + name)
                continue
            users = self._names_on(target, names_on)
            # a name on the target is taken unless it is this very relation's own reverse side
            taken = any(
                user is None or user["declared"] or user["target"] != name or user["reverse"] != r["name"]
                for user in users.get(r["reverse"], ())
            )
            if taken or r["reverse"] in typedef_rules.RESERVED:
                raise conflict("reverse name " + r["reverse"] + " is already used on " + target)

    def _names_on(self, target: str, names_on: dict) -> dict:
        """name -> [relation, or None for a field] of the names used on `target`, built once per check
        (`names_on` keeps them): rebuilding it for each relation was quadratic in the target's relations."""
        users = names_on.get(target)
        if users is None:
            users = {}
            for f in self.types[target]["fields"]:
                users.setdefault(f["name"], []).append(None)
            for existing in self.relations(target):
                users.setdefault(existing["name"], []).append(existing)
            names_on[target] = users
        return users


def _changes_keys(old: dict, new: dict) -> bool:
    """True when the change would need existing entities re-indexed (an index or the alias changes)."""
    if old["alias"] != new["alias"]:
        return True
    old_indexed = {f["name"] for f in old["fields"] if f["indexed"]}
    new_indexed = {f["name"] for f in new["fields"] if f["indexed"]}
    return not new_indexed <= old_indexed


def _encoded(plain: dict) -> str:
    """The JSON a type's definition is stored as; Limit when it is too large."""
    encoded = json.dumps(plain, separators=(",", ":"))
    if len(encoded) > api_limits.MAX_TYPEDEF_JSON:
        raise limit("type definition of " + plain["name"] + " is too large")
    return encoded
