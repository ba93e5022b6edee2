"""The database service behind the Candid endpoints: access checks, validation, paging and error mapping.

Takes and returns plain Python values shaped like the Candid types in main.py (records as dicts,
variants as one-key dicts). Every update runs as the caller inside one engine transaction, so a
refused or failed operation leaves nothing written; every refusal is an `Err`.
"""

import json

import api_limits
import audit_chain
import dump_pages
import models
import rep_hash
import typedef_rules
from access_policy import AccessPolicy
from admin_registry import ANONYMOUS, AdminRegistry
from certification import Certifier
from engine_gateway import EngineGateway
from error_map import conflict, forbidden, from_exception, invalid, limit, not_found
from kybra_simple_db import dump_restore, json_text, restart_warmup
from kybra_simple_db.dump_restore import MAX_DUMP_LINK_IDS, MAX_RESTORE_LINK_IDS, MAX_RESTORE_RECORDS
from kybra_simple_db.memory_map import MemoryMap
from query_api import QueryEndpoints
from reply_budget import ReplyBudget, entity_size
from restore_rules import RestoreRules, check_nesting
from scan_pacer import ScanPacer
from schema_registry import SchemaRegistry
from type_shapes import TypeShape
from undo_map import UndoMap
from value_codec import ValueCodec, field_map, principal_text, stored_from_value, variant_case

PRINCIPAL_CACHE_SIZE = 512
RESTORE_CHUNK = 10  # records written between two reads of the instruction meter by `restore`
LINK_SCAN_ROUNDS = 20  # link pages (of 100 ids or more) one `links` call reads past hidden ids
# the operations an audit entry (an ICRC-3 block's `op`) names for the engine's changes, hashed ahead
_AUDIT_OPERATIONS = ("create", "update", "delete", "link", "unlink", "save", "restore")
STABLE_COST_FACTOR = 2  # bytes of stable memory per entry ~ 2 x (max key + max value), see IC-FACTS.md


class DbApi(QueryEndpoints):
    """One per canister. Built at module import; storage is touched only once `start` runs (at init,
    post_upgrade, or the first message after a localnet restart)."""

    def __init__(self, maps: dict, clock, principal, set_certified_data=None, data_certificate=None,
                 meter=None, set_timer=None):
        self.maps = maps
        self.clock = clock
        self.meter = meter   # instructions used by the current message (ic.performance_counter(0))
        self.set_timer = set_timer   # set_timer(): a timer that soon calls continue_deletes (ic.set_timer)
        self.timer_armed = False
        self.principal = principal
        self.set_certified_data = set_certified_data or (lambda data: None)
        self.data_certificate = data_certificate or (lambda: None)
        self.certifier = None
        self.codec = ValueCodec(principal)
        self.principal_cache = {}
        self.gateway = None
        self.meta = None
        self.admins = None
        self.access = None
        self.registry = None

    # --- lifecycle ---

    def start(self) -> None:
        if self.gateway is not None:
            return
        db_map, db_key, db_value = self.maps["db"]
        audit_map, audit_key, audit_value = self.maps["audit"]
        meta_map, _, _ = self.maps["meta"]
        self.meta = UndoMap(meta_map)
        self.gateway = EngineGateway(
            db_map, audit_map, db_key, db_value, self.clock, (audit_key, audit_value)
        )
        self.gateway.set_write_guard(self._may_write)
        if self.meter is not None:
            self.gateway.set_meter(
                self.meter, api_limits.DELETE_INSTRUCTIONS, api_limits.DELETE_STEP_INSTRUCTIONS
            )
        cert_map = self.maps["cert"][0] if "cert" in self.maps else MemoryMap()
        # the meta map itself, not its undo wrapper: certification writes it (the types record) only after
        # an update succeeded, where nothing is undone (an undo wrapper would read each key back first)
        self.certifier = Certifier(cert_map, meta_map, self.set_certified_data, self.data_certificate)
        self._load_registries()

    def _load_registries(self) -> None:
        """(Re)build the heap views of the meta map: admins and the schema with its engine classes."""
        self.admins = AdminRegistry(self.meta)
        self.access = AccessPolicy(self.admins)
        self.registry = SchemaRegistry(self.meta, self.gateway, models.python_types(self.codec))

    def install(self, installer: str) -> None:
        """The installer becomes the first admin (unless anonymous: then nobody administers)."""
        self.start()
        if installer != ANONYMOUS and not self.admins.all():
            self.admins.add(installer)
        self.certifier.publish()

    def before_upgrade(self) -> None:
        """Nothing to save: every piece of state already lives in the stable maps."""

    def after_upgrade(self) -> None:
        self.gateway = None
        self.start()
        self.certifier.publish()
        self.timer_armed = False     # timers do not survive an upgrade: set one again for queued deletes
        if self.gateway.delete_jobs_queued():
            self._arm_timer()
        self.warm()

    def warm(self, instructions: int = api_limits.WARM_INSTRUCTIONS,
             nodes: int = api_limits.WARM_NODES) -> int:
        """Read ahead, into the heap the next messages keep, what the first creates, updates and gets of each
        type would read cold (restart_warmup.warm_types), then hash each type's field and relation names as
        an audit block's changes do (rep_hash.key_hash, cached), within `instructions` of the message's
        meter and `nodes` index nodes; returns the nodes read (none without a meter: it bounds the work).
        Optional work: should it fail, the upgrade goes on (the messages after it read what they need, and
        every heap cache it filled is checked against storage where it is used)."""
        meter = self.meter
        if meter is None:
            return 0
        stop = meter() + instructions
        try:
            read = restart_warmup.warm_types(self.gateway.db, meter, stop, nodes)
            types = self.registry.types
            for name in self.registry.names():
                if meter() >= stop or len(rep_hash.KEY_HASHES) >= api_limits.WARM_NAMES:
                    break
                rep_hash.key_hash(name)     # (as a block's `type`; its `op` texts: _AUDIT_OPERATIONS)
                for part in types[name]["fields"] + types[name]["relations"]:
                    rep_hash.key_hash(part["name"])
            for operation in _AUDIT_OPERATIONS:
                rep_hash.key_hash(operation)
        except Exception:   # (a stored node it cannot read: the message that needs it reports that)
            return 0
        return read

    # --- plumbing ---

    def _run(self, caller: str, write: bool, action, *args) -> dict:
        """`{"Ok": action(*args)}` run as `caller`, or `{"Err": Error}`; writes run in a transaction."""
        gateway = self.gateway
        if gateway is None:
            self.start()
            gateway = self.gateway
        certifier = self.certifier
        merkle = certifier.merkle   # (what certifier.begin() does, without its call: ~15K on RustPython)
        if merkle.used:
            merkle.reset()
        if not write:
            try:
                scope = gateway.enter(caller, False)
                try:
                    return {"Ok": action(*args)}
                finally:
                    gateway.leave(scope, True)
            except Exception as exc:
                return {"Err": _error_or_raise(exc)}
        meta = self.meta
        if meta.saved:   # (begin only forgets what an earlier message remembered: mostly nothing)
            meta.begin()
        generation = self.registry.generation
        try:
            if caller == ANONYMOUS:
                self.access.require_signed_in(caller)  # raises Unauthenticated
            result, first_seq = gateway.run_as(caller, action, args)
        except Exception as exc:   # (run_as released the held entity: see `release`)
            changed = meta.rollback()
            if changed or generation != self.registry.generation:
                self._load_registries()
            return {"Err": _error_or_raise(exc)}
        # (the meta map needs no commit: its next begin forgets what this message remembered)
        # outside the try: a failure here is a bug and must trap, so the IC rolls the message back
        certifier.after_update(gateway, first_seq)
        return {"Ok": result}

    def _entity(self, type_name: str, view: tuple, caller: str = None, shape: TypeShape = None) -> dict:
        """The Candid Entity of an engine view (a record's "view"; of a type whose TypeShape is `shape`, if
        given); with `caller`, a to-one ref to an entity the caller may not read shows as unlinked (so refs
        reveal no hidden ids)."""
        if shape is None:
            shape = self.registry.shape(type_name)
        eid, values, stored_refs, meta = view
        try:  # subscripts cost a third of get() calls on Kybra's RustPython; a metadata key may be absent
            owner, creator, updater = meta["o"], meta["c"], meta["u"]
            created, updated, version = meta["tc"], meta["tu"], meta["v"]
        except KeyError:
            get = meta.get
            owner, creator, updater = get("o"), get("c"), get("u")
            created, updated, version = get("tc"), get("tu"), get("v")
        fields = []
        for name, kind, inline in shape.reply_fields:  # a Text str or an Int int inline: no codec call
            try:
                stored = values[name]   # (a subscript: a third of get() on RustPython)
            except KeyError:   # (a field declared after the view's document was written)
                stored = None
            # (`+= (item,)`: about 2,000 instructions fewer than a call of the list's append on RustPython)
            if stored.__class__ is inline:   # (a quarter of a type() call on RustPython)
                fields += ({"name": name, "value": {kind: stored}},)
            else:
                fields += ({"name": name, "value": self.codec.value(kind, stored)},)
        refs = []
        for relation, target in shape.to_one:
            target_id = stored_refs.get(relation)
            if caller is not None and target_id is not None:
                target_id = self._visible_ids(caller, target, [target_id])
                target_id = target_id[0] if target_id else None
            refs.append({"relation": relation, "target_type": target, "target_id": target_id})
        cache = self.principal_cache
        try:
            by_owner = cache[owner]   # (a subscript: a third of get() on RustPython)
        except KeyError:
            by_owner = self._principal(owner)
        return {
            "type_name": type_name,
            "id": eid,
            "fields": fields,
            "refs": refs,
            "owner": by_owner,
            "creator": by_owner if creator == owner else cache.get(creator) or self._principal(creator),
            "updater": by_owner if updater == owner else cache.get(updater) or self._principal(updater),
            "created_at": created,
            "updated_at": updated,
            "version": version,
        }

    def _principal(self, text: str):
        """A Principal object for a stored principal text; cached, since parsing one is costly and a page
        repeats the same few owners."""
        found = self.principal_cache.get(text)
        if found is None:
            if len(self.principal_cache) >= PRINCIPAL_CACHE_SIZE:
                self.principal_cache = {}
            try:
                found = self.principal(text)
            except Exception:
                found = self.principal(ANONYMOUS)
            self.principal_cache[text] = found
        return found

    def _values(self, plain, given: list, creating: bool, shape: TypeShape = None) -> dict:
        """Stored values for the given `vec Field`, checked against the fields of the type `plain` (or of
        `shape`, its TypeShape, if the caller has it: then `plain` may be None). A Text or Int value within
        the bounds its TypeShape precomputed (`shape.inline`) is taken as given; anything else goes through
        `_checked_value`, which says what is wrong with it. Every refusal asks `field_map` first, so a
        repeated name is what a list with one is refused for."""
        if shape is None:
            shape = self.registry.shape(plain["name"])
        inline = shape.inline
        most = shape.field_count
        if given.__class__ is not list:   # (`__class__`: a quarter of a type() call)
            field_map(given, most=most)  # raises (unless a list subclass): what field_map refuses first
        count = len(given)
        if count > most:
            field_map(given, most=most)  # raises
        result = {}
        for item in given:
            name = item["name"]
            value = item["value"]
            try:   # (subscripts: a third of get() calls on Kybra's RustPython; one case: `(tag,) = value`)
                python_type, kind, low, high = inline[name]
                (tag,) = value
                payload = value[kind]
            except Exception:   # not a Text or Int field (or no field), not one case of that kind
                python_type = payload = None
            if payload.__class__ is python_type and value.__class__ is dict:   # (then `tag` is `kind`)
                if python_type is str:
                    if low <= len(payload) <= high:
                        result[name] = payload
                        continue
                elif low <= payload <= high:
                    result[name] = payload
                    continue
            result[name] = self._checked_value(shape, given, most, name, value)
        if len(result) < count:   # a name repeated, each time with a value taken inline
            field_map(given, most=most)   # raises
        if creating:
            for name, default, required in shape.fills:
                try:
                    missing = result[name] is None
                except KeyError:
                    missing = True
                if missing:
                    if default is not None:
                        result[name] = default
                    elif required:
                        raise invalid("field " + name + " is required")
        return result

    def _checked_value(self, shape: TypeShape, given: list, most: int, name: str, value) -> object:
        """The stored form of a value `_values` did not take as given, or the refusal that says what is
        wrong with the list (a repeated name, refused first) or with the field (unknown, of another kind,
        out of bounds, required)."""
        field_map(given, most=most)  # raises if a name is repeated (refused before any value)
        try:
            check = shape.checks[name]
        except KeyError:
            check = None
        if check is None:
            self.registry.field(shape.name, name)  # raises: the type has no such field
        field, kind, low, high, longest = check
        stored = stored_from_value(kind, value, name, longest)
        if stored is None:
            if field["required"]:
                raise invalid("field " + name + " is required")
        else:
            typedef_rules.check_bounds(field, stored)
        return stored

    def _load(self, type_name: str, entity_id: int) -> tuple:
        """The entity's view (see engine_gateway); NotFound if it does not exist."""
        view = self.gateway.load_view(type_name, entity_id)
        if view is None:
            raise _absent(type_name, entity_id)
        return view

    def _readable(self, caller: str, type_name: str, entity_id: int, shape: TypeShape = None) -> tuple:
        """The entity's view if the caller may read it. An entity the caller may not read is answered
        exactly as an absent one, so its existence does not leak (Admins-read types refuse non-admins
        first)."""
        if shape is None:
            shape = self.registry.shape(type_name)
        policy = shape.policy
        everything = policy["read"] == "Public" or self.access.check_type_read(caller, type_name, policy)
        view = self.gateway.load_view(type_name, entity_id)
        if view is None or not (everything or self.access.can_read(caller, policy, view[3].get("o"))):
            raise _absent(type_name, entity_id)
        return view

    def _writable(self, caller: str, type_name: str, entity_id: int, action: str,
                  policy: dict = None) -> dict:
        """The entity's metadata ({"o": owner, "v": version, ...}, see the gateway's `load_for_change`) if
        the caller may `action` it (`policy`: the type's, if the caller has it); the gateway holds the
        entity for the change. A
        refusal never tells a caller who may not read the entity whether it exists: Admins-read types
        answer non-admins Forbidden either way, other entities the caller may not read are answered as
        absent."""
        if policy is None:
            policy = self.registry.get(type_name)["policy"]
        meta = self.gateway.load_for_change(type_name, entity_id)
        try:    # (a subscript: a third of get() on RustPython; a metadata key may be absent)
            owner = meta["o"]
        except (KeyError, TypeError):   # (TypeError: no entity, meta None)
            owner = None
        if meta is not None and self.access.may_write(caller, policy, action, owner):
            return meta
        if policy["read"] == "Admins" and not self.access.is_admin(caller):
            self.access.check_write(caller, type_name, policy, action, None)
        if meta is None or not self.access.can_read(caller, policy, owner):
            raise _absent(type_name, entity_id)
        self.access.check_write(caller, type_name, policy, action, owner)
        return meta

    def _visible_ids(self, caller: str, type_name: str, ids: list) -> list:
        """The ids of `type_name` the caller may read (all of them, without a read, for a type it reads
        entirely); the others are left out as if absent."""
        policy = self.registry.get(type_name)["policy"]
        if self.access.reads_everything(caller, policy):
            return ids
        visible = []
        for entity_id in ids:
            record = self.gateway.load(type_name, entity_id)
            if record is not None and self.access.can_read(caller, policy, record["owner"]):
                visible.append(entity_id)
        return visible

    def _page_budget(self, room: int = api_limits.REPLY_BUDGET) -> ReplyBudget:
        """The budget of a query page: `room` bytes of reply, and the message's instructions (with the
        reply's conversion of each item reserved)."""
        return ReplyBudget(
            room, self.meter, api_limits.REPLY_INSTRUCTIONS, api_limits.REPLY_ITEM_INSTRUCTIONS
        )

    def _spent(self, instructions: int) -> bool:
        """Whether the current message has used more than `instructions` (False without a meter)."""
        return self.meter is not None and self.meter() > instructions

    def _may_write(self, caller: str, type_name: str, owner: str, action: str) -> bool:
        """The engine's write guard: may `caller` change (or delete) an entity a link or cascade reaches."""
        plain = self.registry.types.get(type_name)
        return plain is not None and self.access.may_write(caller, plain["policy"], action, owner)

    # --- schema ---

    def define_type(self, caller: str, typedef: dict, force: bool) -> dict:
        def action():
            self.access.require_admin(caller, "define_type")
            plain = typedef_rules.normalize(typedef)
            old = self.registry.types.get(plain["name"])
            self._certification_change(old, plain)
            self._check_certified_refs([plain])
            self.registry.define(plain, force)

        return self._run(caller, True, action)

    def _certification_change(self, old, plain: dict) -> None:
        """Turn a type's certification on (only while it has no entities) or off; refuse changes that
        would make its certified entities read differently from their hashes."""
        name = plain["name"]
        wanted = bool(plain["policy"].get("certified"))
        merkle = self.certifier.merkle
        has_entities = old is not None and self.gateway.count(name) > 0
        if wanted and plain["policy"]["read"] != "Public":
            raise invalid(
                name + ": certified types must be Public-read (proofs show which ids exist and their hashes)"
            )
        if wanted and not merkle.certified(name):
            if has_entities:
                raise conflict("certification of " + name + " can be turned on only while it has no entities")
            try:
                merkle.enable(name)
            except ValueError as exc:
                raise limit(str(exc)) from None
        elif not wanted and merkle.certified(name):
            merkle.disable(name)
        if wanted and has_entities:
            reasons = typedef_rules.rendering_changes(old, plain)
            if reasons:
                raise conflict(
                    name + " is certified and has entities: the change " + "; ".join(reasons)
                    + " (certified entities would no longer match their hashes)"
                )

    def _check_certified_refs(self, plains: list) -> None:
        """With `plains` defined, every to-one relation of a certified type (declared, or the reverse of
        one declared elsewhere) points at a Public-read type: refs are part of the certified hash, so
        they must be visible to every caller. Checked before anything is defined (bounded: the types'
        relations, at most 100 x 16)."""
        types = dict(self.registry.types)
        for plain in plains:
            types[plain["name"]] = plain
        certified = set(self.certifier.merkle.certified_types())
        for name, typedef in types.items():
            for r in typedef["relations"]:
                pairs = ((name, r["name"], r["kind"], r["target"]),
                         (r["target"], r["reverse"], typedef_rules.REVERSE_KIND[r["kind"]], name))
                for owner, relation, kind, target in pairs:
                    target_def = types.get(target)
                    if owner not in certified or kind not in typedef_rules.TO_ONE or target_def is None:
                        continue
                    if target_def["policy"]["read"] != "Public":
                        raise invalid(
                            owner + " is certified: its to-one relation " + relation + " must point at a "
                            "Public-read type, not " + target + " (certified refs are visible to everyone)"
                        )

    def schema_defs(self) -> list:
        self.start()
        return [typedef_rules.to_candid(plain, self.codec) for plain in self.registry.all()]

    # --- data ---

    def create(self, caller: str, type_name: str, fields: list) -> dict:
        return self._run(caller, True, self._create, caller, type_name, fields)

    def _create(self, caller: str, type_name: str, fields: list) -> dict:
        try:   # the registry's TypeShape cache read directly (`shape()` fills it): a call costs ~14,000
            shape = self.registry.shapes[type_name]
        except KeyError:
            shape = self.registry.shape(type_name)   # (NotFound for an unknown type)
        if shape.policy["create"] != "Anyone":  # else nothing can refuse it (`_run` refused ANONYMOUS)
            self.access.check_create(caller, type_name, shape.policy)
        refs = None
        try:   # most creates name no relation: their fields are checked as given, without a split first
            if shape.field_relations:
                raise ValueError("a name that is a field and a relation: split first")
            values = self._values(None, fields, True, shape)
        except Exception:   # a relation named, or a refusal: checked again in the split's order, which
            fields, refs = self._split_refs(shape, fields)   # refuses (or splits off relations) first
            values = self._values(None, fields, True, shape)
        view = self.gateway.create(type_name, values)
        if refs:
            view = self._set_refs(caller, type_name, view[0], refs)
        return self._entity(type_name, view, None, shape)

    def get(self, caller: str, type_name: str, entity_id: int) -> dict:
        """Run without `_run`'s caller scope: a get writes nothing, and neither its read nor its reply asks
        the engine who the caller is or touches the certified tree (the most frequent call, kept lean)."""
        if self.gateway is None:
            self.start()
        try:
            try:   # (see `_create`)
                shape = self.registry.shapes[type_name]
            except KeyError:
                shape = self.registry.shape(type_name)
            return {"Ok": self._entity(type_name, self._readable(caller, type_name, entity_id, shape), caller,
                                       shape)}
        except Exception as exc:
            return {"Err": _error_or_raise(exc)}

    def find(self, caller: str, type_name: str, alias: str) -> dict:
        return self._run(
            caller,
            False,
            lambda: self._entity(type_name, self._find_record(caller, type_name, alias)["view"], caller),
        )

    def _find_record(self, caller: str, type_name: str, alias: str) -> dict:
        plain = self.registry.get(type_name)
        if plain["alias"] is None:
            raise invalid(type_name + " has no alias field")
        self.access.check_type_read(caller, type_name, plain["policy"])
        record = self.gateway.find_alias(type_name, plain["alias"], alias)
        if record is None or not self.access.can_read(caller, plain["policy"], record["owner"]):
            raise not_found("no " + type_name + " with " + plain["alias"] + " " + repr(alias[:100]))
        return record

    def get_certified(self, caller: str, type_name: str, entity_id: int) -> dict:
        """The entity (or None) with a witness for ["entities", type, id] and the data certificate."""

        def action():
            policy = self.registry.get(type_name)["policy"]
            self.access.check_type_read(caller, type_name, policy)
            return self._certified(type_name, entity_id, self.gateway.load(type_name, entity_id))

        return self._run(caller, False, action)

    def find_certified(self, caller: str, type_name: str, alias: str) -> dict:
        """`find` with a proof of the entity found (the alias index itself is not certified: a client
        checks the proven entity's alias field, and a miss is NotFound, unproven)."""

        def action():
            record = self._find_record(caller, type_name, alias)
            return self._certified(type_name, record["id"], record)

        return self._run(caller, False, action)

    def _certified(self, type_name: str, entity_id: int, record) -> dict:
        if not self.certifier.merkle.certified(type_name):
            raise invalid(type_name + " is not certified (set policy.certified when defining it)")
        try:
            witness, certificate = self.certifier.entity_proof(type_name, entity_id)
        except ValueError as exc:
            raise invalid(str(exc)) from None
        entity = None if record is None else self._entity(type_name, record["view"])
        return {"entity": entity, "witness": witness, "certificate": certificate}

    def update(self, caller: str, type_name: str, entity_id: int, fields: list, expected_version) -> dict:
        return self._run(caller, True, self._update, caller, type_name, entity_id, fields, expected_version)

    def _update(self, caller: str, type_name: str, entity_id: int, fields: list, expected_version) -> dict:
        try:   # (see `_create`)
            shape = self.registry.shapes[type_name]
        except KeyError:
            shape = self.registry.shape(type_name)
        meta = self._writable(caller, type_name, entity_id, "modify", shape.policy)
        if expected_version is not None and expected_version != meta.get("v"):
            raise conflict(
                type_name
                + " "
                + str(entity_id)
                + " is at version "
                + str(meta.get("v"))
                + ", not "
                + str(expected_version)
            )
        values = self._values(None, fields, False, shape)
        view = self.gateway.update_held(values) if values else self.gateway.held_view()   # (held: _writable)
        return self._entity(type_name, view, None, shape)

    def delete(self, caller: str, type_name: str, entity_id: int) -> dict:
        return self._run(caller, True, self._delete_in_steps, caller, type_name, entity_id)

    def _delete(self, caller: str, type_name: str, entity_id: int) -> None:
        """A batch's Delete: one all-or-nothing delete, refused (Limit) past the delete budget."""
        self._writable(caller, type_name, entity_id, "delete")
        self.gateway.delete(type_name, entity_id)

    def _delete_in_steps(self, caller: str, type_name: str, entity_id: int) -> None:
        """The entity is deleted in this message; a cascade too large for it goes on in later messages
        (a timer, or `delete_continue`), each deleting only what the caller may delete."""
        self._writable(caller, type_name, entity_id, "delete")
        if not self.gateway.delete_in_steps(type_name, entity_id)["done"]:
            self._arm_timer()

    def delete_continue(self, caller: str, type_name: str, entity_id: int) -> dict:
        """One more step of the caller's own stepwise delete of that entity: {done, deleted, pending};
        NotFound when none is under way for this caller (finished, never started, or another's)."""

        def action():
            self.registry.get(type_name)
            progress = self.gateway.continue_delete(type_name, entity_id)
            if not progress["done"]:
                self._arm_timer()
            return {"done": progress["done"], "deleted": progress["deleted"], "pending": progress["pending"]}

        return self._run(caller, True, action)

    def continue_deletes(self) -> None:
        """The timer's work: one step of the queued stepwise delete whose turn it is (callers in turn,
        each its oldest job first), run as the caller who started it (so it deletes only what that
        caller may delete); a step that fails (a Restrict link, a hook) takes its job off the queue
        until its caller continues it by hand. The timer is set again while jobs remain."""
        self.start()
        self.timer_armed = False
        job = self.gateway.next_delete_job()
        if job is not None:
            type_name, entity_id, caller = job
            result = self._run(caller, True, self.gateway.continue_delete, type_name, entity_id)
            if "Err" in result:
                (reason,) = result["Err"].values()
                self.gateway.block_delete_job(type_name, entity_id, reason)
            else:
                self.gateway.requeue_delete_job(type_name, entity_id)
        if self.gateway.delete_jobs_queued():
            self._arm_timer()

    def _arm_timer(self) -> None:
        if self.set_timer is not None and not self.timer_armed:
            self.set_timer()
            self.timer_armed = True

    def link(self, caller: str, type_name: str, entity_id: int, relation: str, target_id: int) -> dict:
        return self._run(caller, True, self._link, caller, type_name, entity_id, relation, target_id, True)

    def unlink(self, caller: str, type_name: str, entity_id: int, relation: str, target_id: int) -> dict:
        return self._run(caller, True, self._link, caller, type_name, entity_id, relation, target_id, False)

    def _link(
        self, caller: str, type_name: str, entity_id: int, relation: str, target_id: int, add: bool
    ) -> None:
        self.registry.get(type_name)
        rel = self.registry.relation(type_name, relation)
        self._writable(caller, type_name, entity_id, "modify")
        target = self._readable_entity(caller, rel["target"], target_id)
        if add:
            self.gateway.link(type_name, entity_id, relation, target)
        else:
            self.gateway.unlink(type_name, entity_id, relation, target)

    def _readable_entity(self, caller: str, type_name: str, entity_id: int):
        """The gateway's handle of an entity the caller may read (refused exactly as `_readable` refuses):
        a link's or unlink's target, a `links` page's entity. While the handle is held, the message's later
        steps use the entity this read loaded instead of reading it again (~0.8M instructions each time
        on Kybra's RustPython)."""
        policy = self.registry.shape(type_name).policy
        everything = policy["read"] == "Public" or self.access.check_type_read(caller, type_name, policy)
        meta, target = self.gateway.load_entity(type_name, entity_id)
        if meta is None or not (everything or self.access.can_read(caller, policy, meta.get("o"))):
            raise _absent(type_name, entity_id)
        return target

    def links(self, caller: str, type_name: str, entity_id: int, relation: str, cursor, limit_: int) -> dict:
        def action():
            self.registry.get(type_name)
            self.registry.relation(type_name, relation)
            held = self._readable_entity(caller, type_name, entity_id)   # (held: each page step finds it)
            size = api_limits.page_size(limit_, api_limits.MAX_LINK_PAGE)
            target = self.registry.relation(type_name, relation)["target"]
            if self.access.reads_everything(caller, self.registry.get(target)["policy"]):
                ids, next_cursor = self.gateway.link_page(type_name, entity_id, relation, cursor, size)
                return {"items": ids, "next": next_cursor}
            page = self._visible_links(caller, type_name, entity_id, relation, target, cursor, size)
            del held
            return page

        return self._run(caller, False, action)

    def _visible_links(self, caller: str, type_name: str, entity_id: int, relation: str, target: str,
                       cursor, size: int) -> dict:
        """A `links` page for a caller who may not read every target: it reads on past hidden ids (up to
        MAX_LIST_SCAN) and its `next` is the last id it returned, so neither the page nor its cursor
        names a hidden entity (past MAX_LIST_SCAN hidden ids, `next` is where the scan stopped)."""
        items = []
        scanned = 0
        pacer = ScanPacer(self.meter, api_limits.QUERY_INSTRUCTIONS, max(size, api_limits.MAX_PAGE))
        for _ in range(LINK_SCAN_ROUNDS):   # each round reads at most max(size, 100) / 4 + 4 id buckets
            allowed = max(1, pacer.next_budget())
            ids, next_cursor = self.gateway.link_page(type_name, entity_id, relation, cursor, allowed)
            visible = set(self._visible_ids(caller, target, ids))
            for target_id in ids:
                if target_id in visible:
                    items.append(target_id)
                    if len(items) >= size:
                        return {"items": items, "next": target_id}
            scanned += len(ids)
            spent = pacer.spent(len(ids))
            if next_cursor is None:
                return {"items": items, "next": None}
            if scanned >= api_limits.MAX_LIST_SCAN or spent:
                break
            cursor = next_cursor
        return {"items": items, "next": items[-1] if items else next_cursor}

    def _filters(self, plain: dict, filters: list) -> list:
        """[(field, stored value)] for equality filters; each must be an indexed field."""
        if len(filters) > api_limits.MAX_FILTERS:  # before the list is walked: it may be long
            raise limit("at most " + str(api_limits.MAX_FILTERS) + " filters")
        given = field_map(filters, "filters")
        result = []
        for name, value in given.items():
            field = self.registry.field(plain["name"], name)
            if not field["indexed"]:
                raise invalid("field " + name + " is not indexed; filters need indexed fields")
            stored = stored_from_value(field["kind"], value, name)
            result.append((name, stored))
        return result

    def list_page(self, caller: str, type_name: str, filters: list, cursor, limit_: int) -> dict:
        def action():
            plain = self.registry.get(type_name)
            policy = plain["policy"]
            self.access.check_type_read(caller, type_name, policy)
            conditions = self._filters(plain, filters)
            size = api_limits.page_size(limit_)
            first = conditions[0] if conditions else None
            # A caller who may not read every entity scans on past hidden ones (up to MAX_LIST_SCAN), so
            # `next` does not tell a hidden match from no match.
            # After its first page it reads 100 at a time (few engine calls); its `next` is the id of the
            # last entity it returned (or, past MAX_LIST_SCAN hidden ones with none returned, where the
            # scan stopped), so the cursor never names a hidden entity.
            reads_all = self.access.reads_everything(caller, policy)
            more = conditions[1:]   # the equality filters checked on each record (the first is the index's)
            scan_left = size if reads_all else api_limits.MAX_LIST_SCAN
            chunk = size
            budget = self._page_budget()
            pacer = ScanPacer(self.meter, api_limits.QUERY_INSTRUCTIONS, api_limits.MAX_PAGE)
            items = []
            after = cursor
            while True:
                allowed = max(1, min(chunk, pacer.next_budget()))
                records, next_cursor = self.gateway.page(type_name, first, after, allowed)
                spent = pacer.spent(len(records))
                if not reads_all:
                    chunk = max(size, api_limits.MAX_PAGE)   # after the first page: few engine calls
                for record in records:
                    if len(items) >= size:  # filled part-way through a later page
                        return {"items": items, "next": items[-1]["id"]}
                    if more and any(record["fields"].get(name) != value for name, value in more):
                        continue
                    # (a caller who reads every entity may read this one: can_read is true for it)
                    if not reads_all and not self.access.can_read(caller, policy, record["owner"]):
                        continue
                    entity = self._entity(type_name, record["view"], caller)
                    if not budget.take(entity_size(entity)) and items:
                        return {"items": items, "next": items[-1]["id"]}
                    items.append(entity)
                scan_left -= len(records)
                if next_cursor is None:
                    return {"items": items, "next": None}
                if len(items) >= size or scan_left <= 0 or spent:
                    last = items[-1]["id"] if items and not reads_all else next_cursor
                    return {"items": items, "next": last}
                after = next_cursor

        return self._run(caller, False, action)

    def list_certified(self, caller: str, type_name: str, cursor, limit_: int) -> dict:
        """A page of a certified type (ids above `cursor`, no filters) with a witness proving the page
        complete: every stored id in (cursor, last item] is in it (to the end when `next` is null)."""

        def action():
            policy = self.registry.get(type_name)["policy"]
            self.access.check_type_read(caller, type_name, policy)
            if not self.certifier.merkle.certified(type_name):
                raise invalid(type_name + " is not certified (set policy.certified when defining it)")
            records, next_cursor = self._paced_page(type_name, cursor, api_limits.page_size(limit_))
            budget = self._page_budget(api_limits.REPLY_BUDGET - 200_000)  # room for the witness
            items = []
            for position, record in enumerate(records):
                entity = self._entity(type_name, record["view"])
                if not budget.take(entity_size(entity)) and items:
                    next_cursor = self.gateway.cursor_before(records, position)
                    break
                items.append(entity)
            if next_cursor is not None and items:
                next_cursor = items[-1]["id"]
            try:
                witness, certificate = self.certifier.page_proof(type_name, cursor, [e["id"] for e in items])
            except ValueError as exc:
                raise invalid(str(exc)) from None
            return {"items": items, "next": next_cursor, "witness": witness, "certificate": certificate}

        return self._run(caller, False, action)

    def _paced_page(self, type_name: str, cursor, size: int) -> tuple:
        """(up to `size` records with ids after `cursor`, next cursor), read in engine calls sized by a
        ScanPacer, so a page of large entities stops (with a cursor) within the query instructions."""
        pacer = ScanPacer(self.meter, api_limits.QUERY_INSTRUCTIONS, size)
        records = []
        while True:
            allowed = max(1, min(size - len(records), pacer.next_budget()))
            page, cursor = self.gateway.page(type_name, None, cursor, allowed)
            records += page
            if cursor is None or len(records) >= size or pacer.spent(len(page)):
                return records, cursor

    def count(self, caller: str, type_name: str, filters: list) -> dict:
        def action():
            plain = self.registry.get(type_name)
            if not self.access.reads_everything(caller, plain["policy"]):
                raise forbidden("counting " + type_name + " needs read access to all of it (admins)")
            conditions = self._filters(plain, filters)
            if len(conditions) > 1:
                raise invalid("count takes at most one filter")
            return self.gateway.count(type_name, conditions[0] if conditions else None)

        return self._run(caller, False, action)

    def transfer(self, caller: str, type_name: str, entity_id: int, owner) -> dict:
        return self._run(caller, True, self._transfer, caller, type_name, entity_id, owner)

    def _transfer(self, caller: str, type_name: str, entity_id: int, owner) -> dict:
        new_owner = principal_text(owner)
        if new_owner == ANONYMOUS:
            raise invalid("the anonymous principal cannot own entities")
        self._writable(caller, type_name, entity_id, "modify")
        return self._entity(type_name, self.gateway.transfer(type_name, entity_id, new_owner)["view"])

    def batch(self, caller: str, ops: list) -> dict:
        return self._run(caller, True, self._batch, caller, ops)

    def _batch(self, caller: str, ops: list) -> list:
        if len(ops) > api_limits.MAX_BATCH:
            raise limit("at most " + str(api_limits.MAX_BATCH) + " operations per batch")
        budget = ReplyBudget(api_limits.REPLY_BUDGET)
        results = []
        for position, op in enumerate(ops):
            if self.meter is not None and self.meter() > api_limits.BATCH_INSTRUCTIONS:
                raise limit(
                    "operation " + str(position) + ": the batch has used more than "
                    + f"{api_limits.BATCH_INSTRUCTIONS:,}" + " instructions; split it"
                )
            try:
                result = self._batch_op(caller, op)
            except Exception as exc:
                error = from_exception(exc)
                if error is None:
                    raise
                error.message = "operation " + str(position) + ": " + error.message
                raise error from None
            if "Entity" in result and not budget.take(entity_size(result["Entity"])):
                raise limit("the batch reply would exceed " + str(api_limits.REPLY_BUDGET) + " bytes")
            results.append(result)
        return results

    def _batch_op(self, caller: str, op: dict) -> dict:
        tag, arg = variant_case(op, "operation")
        if tag == "Create":
            return {"Entity": self._create(caller, arg["type_name"], arg["fields"])}
        if tag == "Update":
            entity = self._update(caller, arg["type_name"], arg["id"], arg["fields"], arg["expected_version"])
            return {"Entity": entity}
        if tag == "Delete":
            self._delete(caller, arg["type_name"], arg["id"])
            return {"Done": None}
        if tag in ("Link", "Unlink"):
            self._link(caller, arg["type_name"], arg["id"], arg["relation"], arg["target_id"], tag == "Link")
            return {"Done": None}
        if tag == "Transfer":
            return {"Entity": self._transfer(caller, arg["type_name"], arg["id"], arg["owner"])}
        if tag == "Upsert":
            return {"Entity": self._upsert(caller, arg["type_name"], arg["alias"], arg["fields"])["entity"]}
        raise invalid("unknown operation " + tag)

    # --- history and export ---

    def audit(self, caller: str, start: int, end, limit_: int) -> dict:
        def action():
            size = api_limits.page_size(limit_)
            entries, next_seq = self.gateway.audit_page(start, end, size)
            admin = self.access.is_admin(caller)
            budget = self._page_budget()
            items = []
            owners = {}
            for position, entry in enumerate(entries):
                if position and not admin and self._spent(api_limits.QUERY_INSTRUCTIONS):
                    return {"items": items, "next": entry["seq"]}  # ownership reads of large entities
                if not admin and not self._audit_visible(caller, entry, owners):
                    continue
                item = self._audit_entry(entry, None if admin else caller)
                if not budget.take(entity_size(item)) and items:
                    next_seq = entry["seq"]
                    break
                items.append(item)
            return {"items": items, "next": next_seq}

        return self._run(caller, False, action)

    def _audit_visible(self, caller: str, entry: dict, owners: dict) -> bool:
        """Whether a non-admin sees an audit entry: any entry of a Public-read type; of other types only
        the caller's own entries on entities it still owns (or that are gone). A delete can clear a
        reference in another owner's entity; that write is the caller's, but showing it would name a
        hidden entity. `owners` caches (type, id) -> owner (None: absent) for the call."""
        type_name = entry["type_name"]
        plain = self.registry.types.get(type_name)
        if plain is not None and plain["policy"]["read"] == "Public":
            return True
        if entry["caller"] != caller:
            return False
        if plain is None:
            return True
        key = (type_name, entry["id"])
        if key not in owners:
            record = self.gateway.load(type_name, entry["id"])
            owners[key] = None if record is None else record["owner"]
        return owners[key] is None or owners[key] == caller

    def _audit_entry(self, entry: dict, viewer: str = None) -> dict:
        """The Candid AuditEntry; for a non-admin `viewer`, a relation change naming an entity the viewer
        may not read shows as Null (as `refs` do)."""
        kinds = {}
        targets = {}
        plain = self.registry.types.get(entry["type_name"])
        if plain is not None:
            kinds = {f["name"]: f["kind"] for f in plain["fields"]}
            if viewer is not None:
                targets = {r["name"]: r["target"] for r in self.registry.relations(entry["type_name"])}
        changes = []
        for name, stored in entry["changes"].items():
            kind = kinds.get(name)
            target = targets.get(name)
            if target is not None and isinstance(stored, int):
                stored = stored if self._visible_ids(viewer, target, [stored]) else None
            value = self.codec.value(kind, stored) if kind else self.codec.untyped(stored)
            changes.append({"name": name, "value": value})
        return {
            "seq": entry["seq"],
            "time": entry["time"],
            "caller": entry["caller"],
            "operation": entry["operation"],
            "type_name": entry["type_name"],
            "id": entry["id"],
            "changes": changes,
        }

    # --- ICRC-3 ---

    def icrc3_get_blocks(self, caller: str, ranges: list) -> dict:
        """Blocks of the requested ranges (at most MAX_PAGE in all); the log holds every owner's changes,
        so only admins read it (others get ApiError Forbidden, which the endpoint turns into a reject)."""
        self.start()
        self.certifier.begin()
        if not self.access.is_admin(caller):
            raise forbidden("icrc3_get_blocks is for admins: the log holds every owner's changes")
        extent = self.certifier.chain.extent() or (0, 0)
        first, length = extent
        budget = self._page_budget()
        blocks = []
        left = api_limits.MAX_PAGE
        for wanted in ranges[: api_limits.MAX_PAGE]:  # each range gives a block at least, or is ignored
            if left <= 0:
                break
            start = max(int(wanted["start"]), first)
            end = min(int(wanted["start"]) + int(wanted["length"]), length, start + left)
            if end <= start:
                continue
            entries, _ = self.gateway.audit_page(start, end, end - start)
            for entry in entries:
                phash = self.certifier.chain.parent_hash(entry["seq"], first)
                block = audit_chain.block_value(entry, phash)
                if not budget.take(entity_size(block)) and blocks:   # (the first block always goes:
                    return {"log_length": length, "blocks": blocks, "archived_blocks": []}  # no empty page)
                blocks.append({"id": entry["seq"], "block": block})
                left -= 1
        return {"log_length": length, "blocks": blocks, "archived_blocks": []}

    def icrc3_get_tip_certificate(self):
        self.start()
        self.certifier.begin()
        return self.certifier.tip_certificate()

    def dump(self, caller: str, cursor, limit_: int) -> dict:
        def action():
            self.access.require_admin(caller, "dump")
            size = api_limits.page_size(limit_)
            schema = ""
            if cursor is None:  # encoded before the records, so the page's stop counts its cost
                python_names = self.registry.python_names
                plain = [p for p in self.registry.all() if p["name"] not in python_names]
                schema = ',"schema":' + json.dumps(plain, separators=(",", ":"), sort_keys=True)
            # the records fill what the schema leaves of the page (none when it leaves no room for one)
            records, records_text, next_cursor = self.gateway.dump_page(
                cursor, size, api_limits.MAX_DUMP_DATA, lambda chars: self._dump_spent(chars + len(schema)),
                api_limits.MAX_DUMP_DATA - len(schema),
            )
            # the page's keys in sorted order around the records' text, which is not encoded a second time
            data = '{"format":' + json.dumps(dump_pages.page_format(records)) + ',"records":' + records_text
            return {"data": data + schema + "}", "next": next_cursor}

        return self._run(caller, False, action)

    def _dump_spent(self, chars: int) -> bool:
        """Whether a dump page of `chars` characters so far (records read and encoded) takes no more
        records: the message's instructions and what assembling and replying that text will still cost
        pass DUMP_INSTRUCTIONS."""
        return self._spent(api_limits.DUMP_INSTRUCTIONS - api_limits.dump_tail(chars))

    def restore(self, caller: str, data: str) -> dict:
        return self._run(caller, True, self._restore, caller, data)

    def _restore(self, caller: str, data: str) -> int:
        self.access.require_admin(caller, "restore")
        if len(data) > api_limits.MAX_RESTORE_DATA:
            raise limit("a restore page holds at most " + str(api_limits.MAX_RESTORE_DATA) + " characters")
        check_nesting(data)
        try:
            page = json_text.loads(data)   # linear on Kybra's RustPython, where json.loads is not
        except (ValueError, RecursionError):
            raise invalid("restore data is not JSON") from None
        records = dump_pages.check_format(page)
        if dump_restore.link_ids(records) > MAX_RESTORE_LINK_IDS:
            raise limit(
                "a restore page holds at most " + str(MAX_RESTORE_LINK_IDS) + " link ids (a dump page "
                "holds at most " + str(MAX_DUMP_LINK_IDS) + "): split it with continuation records"
            )
        schema = page.get("schema", [])
        if not isinstance(schema, list):
            raise invalid("the schema of a restore page must be a list")
        new = []
        for position, raw in enumerate(schema):
            try:
                plain = typedef_rules.normalize(typedef_rules.to_candid(raw, self.codec))
            except (KeyError, TypeError, AttributeError, ValueError, OverflowError):
                raise invalid("schema entry " + str(position) + " of the restore page is malformed") from None
            existing = self.registry.types.get(plain["name"])
            if existing is None:
                self._certification_change(None, plain)
                new.append(plain)
            elif existing != plain:
                raise conflict("type " + plain["name"] + " exists with another definition")
        if new:  # checked and defined together: one by one was quadratic in the types' relations
            self._check_certified_refs(new)
            self.registry.define_many(new)
        now = int(self.clock())
        rules = RestoreRules(self.registry, self._values, self.principal, now, self.gateway.load)
        checked = [rules.check(record) for record in records]
        self._check_restore_ids(checked)
        if len(checked) <= RESTORE_CHUNK or len(checked) > MAX_RESTORE_RECORDS:
            return self.gateway.restore(checked)   # (the engine refuses a page of too many records)
        restored = 0
        for start in range(0, len(checked), RESTORE_CHUNK):
            if self._spent(api_limits.BATCH_INSTRUCTIONS):
                raise limit(
                    f"restore: record {start}: the page has used more than {api_limits.BATCH_INSTRUCTIONS:,} "
                    "instructions; split it"
                )
            restored += self.gateway.restore(checked[start:start + RESTORE_CHUNK])
        return restored

    def _check_restore_ids(self, records: list) -> None:
        """Ids (and end markers) may run ahead of a type's highest id by MAX_RESTORE_ID_GAP at most: the
        ids skipped are marked deleted, one write per 2,048 ids, so the gap bounds the work."""
        highest = {}
        for record in records:
            if not isinstance(record, dict) or not isinstance(record.get("type"), str):
                continue  # the engine names what is wrong with it
            value = record.get("id", record.get("max_id"))
            if isinstance(value, bool) or not isinstance(value, int):
                continue
            if value > api_limits.MAX_INT:
                raise invalid("restore: id " + str(value) + " is out of range")
            base = highest.get(record["type"])
            if base is None:
                base = self.gateway.max_id(record["type"])
            if value - base > api_limits.MAX_RESTORE_ID_GAP:
                raise limit(
                    "restore: "
                    + record["type"]
                    + " id "
                    + str(value)
                    + " is more than "
                    + str(api_limits.MAX_RESTORE_ID_GAP)
                    + " past the highest id "
                    + str(base)
                )
            highest[record["type"]] = max(base, value)

    # --- operations ---

    def stats(self, caller: str) -> dict:
        """Counts of the types the caller may count (as `count` allows), the audit length and the
        stable-memory estimate."""
        self.start()
        counts = [
            {"type_name": name, "count": self.gateway.count(name, None)}
            for name in self.registry.names()
            if self.access.reads_everything(caller, self.registry.get(name)["policy"])
        ]
        estimate = 0
        for storage, max_key, max_value in self.maps.values():
            estimate += STABLE_COST_FACTOR * storage.len() * (max_key + max_value)
        return {
            "types": counts,
            "entities": sum(c["count"] for c in counts),
            "audit_length": self.gateway.audit_length(),
            "stable_memory_bytes": estimate,
        }

    def add_admin(self, caller: str, principal) -> dict:
        def action():
            self.access.require_admin(caller, "add_admin")
            self.admins.add(principal_text(principal))

        return self._run(caller, True, action)

    def remove_admin(self, caller: str, principal) -> dict:
        def action():
            self.access.require_admin(caller, "remove_admin")
            self.admins.remove(principal_text(principal))

        return self._run(caller, True, action)

    def admins_list(self) -> list:
        self.start()
        return [self.principal(p) for p in self.admins.all()]


def _absent(type_name: str, entity_id: int):
    """The NotFound of an entity that does not exist, or that the caller may not see."""
    return not_found(type_name + " " + str(entity_id) + " does not exist")


def _error_or_raise(exc: Exception) -> dict:
    """The Candid Error for an expected failure; anything else is a bug and re-raised, so it traps and
    the IC rolls the whole message back."""
    error = from_exception(exc)
    if error is None:
        raise exc
    return error.variant()
