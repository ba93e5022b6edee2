"""The query endpoints of the service: `query` (filters, order, cursor), `query_count`, `upsert`,
`audit_query` (newest first, filtered) and `rebuild_indexes`.

A mixin of `db_api.DbApi` (it uses the service's registry, access policy, gateway and `_run`). Every
reply is bounded: at most MAX_PAGE entities, a scan budget per call (the page says how far it got and
gives a cursor), and the reply byte budget.
"""

import api_limits
import typedef_rules
from error_map import conflict, forbidden, invalid, limit
from reply_budget import ReplyBudget, entity_size
from scan_pacer import ScanPacer
from value_codec import field_map, principal_text, stored_from_value, variant_case

OPERATORS = {
    "Eq": "==",
    "Ne": "!=",
    "Lt": "<",
    "Le": "<=",
    "Gt": ">",
    "Ge": ">=",
    "Between": "between",
    "In": "in",
    "StartsWith": "startswith",
}
MAX_QUERY_FILTERS = 8
MAX_IN_VALUES = 100
QUERY_SCAN_BUDGET = 1000  # candidates examined per `query` call
AUDIT_SCAN_BUDGET = 2000  # audit entries read per `audit_query` call
MAX_CURSOR = 2000  # characters of a query cursor
MAX_REBUILD_PAGE = 200
QUERY_CHUNK = 50  # candidates per engine call of `query` at most (fewer as the scan pacer says)
COUNT_CHUNK = 250  # candidates per engine call of `query_count` at most
COUNT_ROUNDS = 20  # engine calls of one `query_count` (at most 5,000 candidates)


class QueryEndpoints:
    """`query`, `query_count`, `upsert`, `audit_query` and `rebuild_indexes` of the database service."""

    # --- filters ---

    def _query_filters(self, plain: dict, filters: list) -> list:
        """[(field, engine op, operand)] for the Candid filters, each value checked against the field."""
        if len(filters) > MAX_QUERY_FILTERS:
            raise limit("at most " + str(MAX_QUERY_FILTERS) + " filters")
        out = []
        for item in filters:
            name = item["field"]
            field = self.registry.field(plain["name"], name)
            tag, _ = variant_case(item["op"], "op")
            op = OPERATORS.get(tag)
            if op is None:
                raise invalid("unknown filter op " + tag)
            values = item["values"]
            if len(values) > MAX_IN_VALUES:
                raise limit("at most " + str(MAX_IN_VALUES) + " values in one filter")
            stored = [stored_from_value(field["kind"], v, name) for v in values]
            if op == "between":
                if len(stored) != 2:
                    raise invalid(name + " Between takes two values")
                operand = stored
            elif op == "in":
                if not stored:
                    raise invalid(name + " In takes at least one value")
                operand = stored
            else:
                if len(stored) != 1:
                    raise invalid(name + " " + tag + " takes one value")
                operand = stored[0]
            if op in ("between", "in") and any(v is None for v in stored):
                raise invalid(name + " " + tag + " does not take Null")
            out.append((name, op, operand))
        return out

    def _query_order(self, plain: dict, order):
        if order is None:
            return None
        name = order["field"]
        if name != "id":
            self.registry.field(plain["name"], name)
        return ("-" if order["descending"] else "") + name

    # --- to-one relations set by create ---

    def _split_refs(self, shape, fields: list) -> tuple:
        """(fields, {relation: target id}): `create` may name to-one relations among its fields, with an
        Int id (or Null for none); they are linked in the same call, with the same checks as `link`.
        `shape` is the type's TypeShape."""
        relations = shape.relations
        most = shape.most_given
        if len(fields) > most:  # before the list is walked: it may be long
            raise invalid("at most " + str(most) + " fields (each name once, and only names the type has)")
        plain_fields = []
        refs = {}
        for item in fields:
            name = item["name"]
            rel = relations.get(name)
            if rel is None:
                plain_fields.append(item)  # a field (or an unknown name: refused as for any create)
                continue
            if rel["kind"] not in typedef_rules.TO_ONE:
                raise invalid(name + " links many entities: use link after create")
            if name in refs:
                raise invalid("field " + name + " given twice")
            tag, payload = variant_case(item["value"], "value of " + name)
            if tag == "Null":
                continue
            if tag != "Int" or isinstance(payload, bool) or not 0 < payload <= api_limits.MAX_INT:
                raise invalid(name + " takes the target's id as an Int")
            refs[name] = payload
        return plain_fields, refs

    def _set_refs(self, caller: str, type_name: str, entity_id: int, refs: dict) -> tuple:
        """Link the new entity as `refs` says (each as `link` would); its view after."""
        for relation, target_id in refs.items():
            self._link(caller, type_name, entity_id, relation, target_id, True)
        return self._load(type_name, entity_id)

    # --- endpoints ---

    def query(self, caller: str, request: dict) -> dict:
        def action():
            type_name = request["type_name"]
            plain = self.registry.get(type_name)
            policy = plain["policy"]
            self.access.check_type_read(caller, type_name, policy)
            filters = self._query_filters(plain, request["filters"])
            order = self._query_order(plain, request["order"])
            cursor = request["cursor"]
            if cursor is not None and len(cursor) > MAX_CURSOR:
                raise invalid("malformed query cursor")
            size = api_limits.page_size(request["limit"])
            reads_all = self.access.reads_everything(caller, policy)
            return self._query_scan(caller, type_name, filters, order, cursor, size, reads_all)

        return self._run(caller, False, action)

    def _readable_items(self, caller: str, type_name: str, page: dict, room: int, budget: ReplyBudget,
                        have: int, reads_all: bool = False) -> tuple:
        """(the page's entities the caller may read, at most `room` and within the reply `budget`
        shared by the call's pages, which hold `have` entities already; the cursor after the last one
        taken, or None; whether the page was cut short). `reads_all`: the caller reads every entity of
        the type (then each may be read without asking)."""
        policy = self.registry.get(type_name)["policy"]
        items = []
        taken = None
        cut = False
        for position, record in enumerate(page["records"]):
            if not reads_all and not self.access.can_read(caller, policy, record["owner"]):
                continue
            entity = self._entity(type_name, record["view"], caller)
            if len(items) >= room or (not budget.take(entity_size(entity)) and (items or have)):
                cut = True
                break
            items.append(entity)
            taken = position
        return items, None if taken is None else page["cursor_after"](taken), cut

    def _query_scan(self, caller: str, type_name: str, filters: list, order, cursor, size: int,
                    reads_all: bool) -> dict:
        """The engine pages of one `query` call: at most QUERY_SCAN_BUDGET candidates, QUERY_CHUNK per
        engine call, and no new engine call once the message has used QUERY_INSTRUCTIONS (candidates
        of 64 KB cost ~13M instructions each: 1,000 would pass the 5B query limit).
        A caller who may read only some entities (Owner-read types) pages on past hidden entities,
        `scanned` counts only entities it may read, and `next` only ever follows an entity it returned,
        so neither the reply nor its cursor tells a query matching hidden entities from one matching
        none; with none found when the budget runs out, it answers Limit."""
        budget = self._page_budget()
        items = []
        last = None
        scanned = 0
        left = QUERY_SCAN_BUDGET
        chunk = size
        pacer = ScanPacer(self.meter, api_limits.QUERY_INSTRUCTIONS, QUERY_CHUNK)
        query_page = self.gateway.query_pages(type_name, filters, order)   # (checks the filters once)
        while True:
            allowed = max(1, pacer.next_budget())
            page = query_page(cursor, chunk, min(left, allowed))
            spent = pacer.spent(page["scanned"])
            found, taken, cut = self._readable_items(caller, type_name, page, size - len(items), budget,
                                                     len(items), reads_all)
            items += found
            last = taken or last
            scanned += page["scanned"]
            left -= page["scanned"]
            shown = scanned if reads_all else len(items)
            if cut or (len(items) >= size and page["next"] is not None):
                return {"items": items, "next": last, "scanned": shown, "complete": True}
            if page["next"] is None:
                return {"items": items, "next": None, "scanned": shown, "complete": True}
            if left <= 0 or spent:
                if reads_all:
                    return {"items": items, "next": page["next"], "scanned": shown, "complete": False}
                if items:
                    return {"items": items, "next": last, "scanned": shown, "complete": False}
                raise limit(
                    "the query passed "
                    + str(scanned)
                    + " candidates without one the caller may read; narrow it with filters on indexed fields"
                )
            cursor = page["next"]
            # after the first engine page of a partial reader, pages of 100: few engine calls
            chunk = size - len(items) if reads_all else max(size, api_limits.MAX_PAGE)

    def query_count(self, caller: str, request: dict) -> dict:
        def action():
            type_name = request["type_name"]
            plain = self.registry.get(type_name)
            if not self.access.reads_everything(caller, plain["policy"]):
                raise forbidden("counting " + type_name + " needs read access to all of it (admins)")
            filters = self._query_filters(plain, request["filters"])
            self._query_order(plain, request["order"])
            cursor = request["cursor"]
            if cursor is not None and len(cursor) > MAX_CURSOR:
                raise invalid("malformed query cursor")
            total = 0
            pacer = ScanPacer(self.meter, api_limits.QUERY_INSTRUCTIONS, COUNT_CHUNK)
            for _ in range(COUNT_ROUNDS):
                allowed = max(1, pacer.next_budget())
                count, after = self.gateway.query_count(type_name, filters, cursor, allowed)
                total += count
                # an engine call that stops early returns a cursor; one that finishes, None
                if after is None or pacer.spent(allowed):
                    return {"count": total, "next": after}
                cursor = after
            return {"count": total, "next": cursor}

        return self._run(caller, False, action)

    def upsert(self, caller: str, type_name: str, alias_value: dict, fields: list) -> dict:
        return self._run(caller, True, self._upsert, caller, type_name, alias_value, fields)

    def _upsert(self, caller: str, type_name: str, alias_value: dict, fields: list) -> dict:
        plain = self.registry.get(type_name)
        alias = plain["alias"]
        if alias is None:
            raise invalid(type_name + " has no alias field")
        field = self.registry.field(type_name, alias)
        key = stored_from_value(field["kind"], alias_value, alias)
        if key is None:
            raise invalid("the alias value may not be Null")
        given = field_map(fields, most=len(plain["fields"]) + len(self.registry.relations(type_name)))
        if alias in given and stored_from_value(field["kind"], given[alias], alias) != key:
            raise invalid("field " + alias + " differs from the alias value")
        record = self.gateway.find_alias(type_name, alias, key)
        if record is None:
            values = [f for f in fields if f["name"] != alias] + [{"name": alias, "value": alias_value}]
            return {"entity": self._create(caller, type_name, values), "created": True}
        if not self.access.may_write(caller, plain["policy"], "modify", record["owner"]):
            raise conflict(type_name + " " + alias + " " + repr(str(key)[:100]) + " is already used")
        return {"entity": self._update(caller, type_name, record["id"], fields, None), "created": False}

    def audit_query(self, caller: str, request: dict) -> dict:
        def action():
            size = api_limits.page_size(request["limit"])
            admin = self.access.is_admin(caller)
            type_name = request["type_name"]
            entity_id = request["id"]
            who = None if request["caller"] is None else principal_text(request["caller"])
            newest_first = request["newest_first"]
            budget = self._page_budget()
            items = []
            owners = {}
            read = 0
            for entry in self.gateway.audit_scan(request["start"], newest_first):
                seq = entry["seq"]
                if read >= AUDIT_SCAN_BUDGET or len(items) >= size:
                    return {"items": items, "next": seq}
                if read % 5 == 4 and self._spent(api_limits.QUERY_INSTRUCTIONS):
                    return {"items": items, "next": seq}
                read += 1
                if type_name is not None and entry["type_name"] != type_name:
                    continue
                if entity_id is not None and entry["id"] != entity_id:
                    continue
                if who is not None and entry["caller"] != who:
                    continue
                if not admin:
                    loaded = len(owners)
                    visible = self._audit_visible(caller, entry, owners)
                    read += len(owners) - loaded  # an entity read to check ownership counts as a read
                    if not visible:
                        continue
                item = self._audit_entry(entry, None if admin else caller)
                if not budget.take(entity_size(item)) and items:
                    return {"items": items, "next": seq}
                items.append(item)
            return {"items": items, "next": None}

        return self._run(caller, False, action)

    def rebuild_indexes(self, caller: str, type_name: str, cursor, limit_: int) -> dict:
        def action():
            self.access.require_admin(caller, "rebuild_indexes")
            self.registry.get(type_name)
            size = api_limits.page_size(limit_, MAX_REBUILD_PAGE)
            return self.gateway.rebuild_indexes(type_name, cursor, size)

        return self._run(caller, True, action)
