"""An entity linked to itself: both sides of the relation are set, unset and deleted together,
for symmetric (spouse, friends) and asymmetric (next/prev, parent/children, follows/followers)
relations."""

import json

import pytest
from kybra_simple_db import (
    RESTRICT,
    ConflictError,
    Database,
    Entity,
    ManyToMany,
    ManyToOne,
    OneToOne,
    String,
)


def _doc(eid: int, tc: int = 1) -> dict:
    return json.loads(Database.get_instance()._storage.get(f"{tc}:{eid}"))["f"]


def _link_keys(storage) -> list:
    return [k for k, _ in storage.items() if ">" in k]


def _card_type():
    class Card(Entity):
        name = String()
        next = OneToOne("Card", "prev")

    return Card


def test_asymmetric_one_to_one_self_link_sets_both_sides_in_one_change():
    Card = _card_type()
    card = Card(name="a")
    assert card.link("next", card.id) is True
    assert card.refs() == {"next": 1, "prev": 1} and card.version == 2
    assert _doc(1) == {"name": "a", "next": 1, "prev": 1}
    Database.get_instance().identity.clear()
    assert Card.load(1).refs() == {"next": 1, "prev": 1}
    assert Card.load(1).link("next", 1) is False


def test_asymmetric_self_link_moves_and_unlinks_consistently():
    Card = _card_type()
    a, b = Card(name="a"), Card(name="b")
    a.link("next", a)
    a.link("next", b)   # leaving the self-link clears the prev side too
    assert a.refs() == {"next": 2, "prev": None} and b.refs() == {"next": None, "prev": 1}
    a.link("prev", a)   # from the other side: b loses a as its prev
    assert a.refs() == {"next": 1, "prev": 1} and b.refs() == {"next": None, "prev": None}
    assert a.unlink("prev", a) is True
    assert a.refs() == {"next": None, "prev": None} and a.unlink("next", a) is False
    b.link("next", a)
    a.link("next", a)   # a's previous prev (b) no longer points at a
    assert a.refs() == {"next": 1, "prev": 1} and b.refs() == {"next": None, "prev": None}
    assert _doc(1) == {"name": "a", "next": 1, "prev": 1} and _doc(2) == {"name": "b", "next": None,
                                                                            "prev": None}
    a.next = None
    assert a.refs() == {"next": None, "prev": None} and _doc(1)["prev"] is None


def test_self_link_through_another_object_of_the_same_entity():
    Card = _card_type()
    Card(name="a")
    first = Card.load(1)
    Database.get_instance().identity.clear()    # a later load gives a second object for entity 1
    assert first.link("next", 1) is True
    assert first.refs() == {"next": 1, "prev": 1} and _doc(1)["prev"] == 1
    Database.get_instance().identity.clear()
    assert first.unlink("next", 1) is True and _doc(1) == {"name": "a", "next": None, "prev": None}


def test_rolled_back_self_link_leaves_memory_and_storage_unchanged(storage):
    Card = _card_type()
    card = Card(name="a")
    before = list(storage.items())
    with pytest.raises(RuntimeError):
        with Database.get_instance().transaction():
            card.link("next", card)
            raise RuntimeError
    assert card.refs() == {"next": None, "prev": None} and card.version == 1
    assert list(storage.items()) == before


def test_symmetric_self_links_are_allowed_and_consistent(storage):
    class Person(Entity):
        name = String()
        spouse = OneToOne("Person", "spouse")
        friends = ManyToMany("Person", "friends")

    p, q = Person(name="p"), Person(name="q")
    assert p.link("spouse", p) is True and p.spouse is p and p.refs() == {"spouse": 1}
    p.spouse = q
    assert p.spouse is q and q.spouse is p
    p.spouse = p
    assert p.spouse is p and q.spouse is None
    assert p.link("friends", p) is True and p.links("friends") == ([1], None)
    assert p.has_link("friends", p) and p.unlink("friends", p) is True and p.links("friends") == ([], None)
    p.link("friends", p)
    p.link("friends", q)
    p.delete()
    assert q.links("friends") == ([], None) and q.spouse is None
    assert _link_keys(storage) == [] and Person.count() == 1


def test_asymmetric_to_many_self_links():
    class Node(Entity):
        name = String()
        parent = ManyToOne("Node", "children")

    class User(Entity):
        name = String()
        follows = ManyToMany("User", "followers")

    n = Node(name="n")
    n.link("children", n)
    assert n.refs() == {"parent": 1} and n.links("children") == ([1], None)
    other = Node(name="o")
    n.link("parent", other)
    assert n.links("children") == ([], None) and other.links("children") == ([1], None)
    u = User(name="u")
    u.link("follows", u)
    assert u.links("follows") == ([1], None) and u.links("followers") == ([1], None)
    u.unlink("followers", u)
    assert u.links("follows") == ([], None) and u.links("followers") == ([], None)


def test_self_link_does_not_restrict_delete_other_links_do():
    class Step(Entity):
        name = String()
        next = OneToOne("Step", "prev", on_delete=RESTRICT)

    a, b = Step(name="a"), Step(name="b")
    a.link("next", a)
    a.link("next", b)           # a's next is now b, so a no longer links itself
    with pytest.raises(ConflictError):
        a.delete()
    a.link("next", a)           # b drops away again
    assert b.refs() == {"next": None, "prev": None}
    a.delete()
    assert Step.count() == 1 and Step.load(1) is None and b.is_live()
