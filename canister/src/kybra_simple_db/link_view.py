"""`LinkSet`: the value of a to-many relation attribute, reading links page by page from storage
(`UnionLinks` for a relation to several types)."""


def drain(fetch, size: int) -> list:
    """Every item of a paged source: `fetch(cursor, size)` returns (items, next cursor or None)."""
    out = []
    cursor = None
    while True:
        items, cursor = fetch(cursor, size)
        out.extend(items)
        if cursor is None:
            return out


class LinkSet:
    """A live view of one entity's to-many relation: `in`, iteration, `len`, `add`, `remove`, pages."""

    def __init__(self, entity, relation):
        self.entity = entity
        self.relation = relation

    def __contains__(self, other) -> bool:
        if getattr(other, "_type", None) != self.relation.target_cls.__type_name__:
            return False
        return self.entity.has_link(self.relation.name, other)

    def page(self, cursor=None, limit: int = 100) -> tuple:
        """(ids, next cursor or None) of linked entities after `cursor`."""
        return self.entity.links(self.relation.name, cursor, limit)

    def ids(self) -> list:
        """Every linked id, ascending."""
        return drain(self.page, 1000)

    def __iter__(self):
        target_cls = self.relation.target_cls
        cursor = None
        while True:
            ids, cursor = self.page(cursor, 200)
            for tid in ids:
                target = target_cls.by_storage_id(tid)
                if target is not None:
                    yield target
            if cursor is None:
                return

    def __len__(self) -> int:
        return self.entity.link_count(self.relation.name)

    def __bool__(self) -> bool:
        ids, _ = self.page(None, 1)
        return bool(ids)

    def __eq__(self, other) -> bool:
        if isinstance(other, LinkSet):
            other = list(other)
        if isinstance(other, (list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def add(self, target) -> bool:
        return self.entity.link_through(self.relation, target)

    def remove(self, target) -> bool:
        return self.entity.unlink_through(self.relation, target)

    def __repr__(self) -> str:
        return f"<links {self.entity!r}.{self.relation.name}: {self.ids()[:10]}>"


class UnionLinks(LinkSet):
    """The value of a to-many relation to several types: the union of its one-type parts' links,
    iterated type by type in the declared order (pages give ids, as `Entity.links` does)."""

    def __init__(self, entity, relation, parts):
        super().__init__(entity, relation)
        self.sets = [LinkSet(entity, part) for part in parts]

    def __contains__(self, other) -> bool:
        return any(other in links for links in self.sets)

    def __iter__(self):
        for links in self.sets:
            yield from links

    def __len__(self) -> int:
        return sum(len(links) for links in self.sets)

    def __bool__(self) -> bool:
        return any(self.sets)

    def add(self, target) -> bool:
        return self.entity.link(self.relation.name, target)

    def remove(self, target) -> bool:
        return self.entity.unlink(self.relation.name, target)
