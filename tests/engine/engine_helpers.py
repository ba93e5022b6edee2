"""Helpers shared by the engine tests: a self-referencing Cascade tree type and a whole paged dump."""

from kybra_simple_db import CASCADE, Database, Entity, ManyToOne, OneToMany, String


def node_type() -> type:
    """A tree of `Node`s whose children go with their parent (Cascade): the shape of deep chains and fans."""

    class Node(Entity):
        label = String()
        children = OneToMany("Node", "parent", on_delete=CASCADE)
        parent = ManyToOne("Node", "children")

    return Node


def dump_pages(db: Database, limit: int = 100) -> list[list[dict]]:
    """Every page of `db`'s dump, `limit` records at most each, in order."""
    pages, cursor = [], None
    while True:
        records, cursor = db.dump_page(cursor, limit)
        pages.append(records)
        if cursor is None:
            return pages
