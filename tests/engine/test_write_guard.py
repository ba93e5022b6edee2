"""The write guard: links and cascades ask before they change or delete an entity other than the one
the operation was called on; membership of to-many sets never asks."""

import pytest
from kybra_simple_db import (
    ACTION_DELETE,
    ACTION_MODIFY,
    Entity,
    ManyToMany,
    ManyToOne,
    OneToMany,
    OneToOne,
    PermissionDenied,
    String,
    get_caller_id,
)


class Project(Entity):
    name = String()
    tasks = OneToMany("Task", "project", on_delete="cascade")
    stickers = ManyToMany("Sticker", "projects", on_delete="cascade")


class Task(Entity):
    title = String()
    project = ManyToOne("Project", "tasks")


class Sticker(Entity):
    name = String()


class Person(Entity):
    name = String()
    spouse = OneToOne("Person", "spouse")


def owned_by(db, owner: str, factory):
    with db.as_user(owner):
        return factory()


@pytest.fixture
def asked(fresh_db):
    """Every (entity, action) the guard is asked; it lets callers change only their own entities."""
    log = []

    def guard(entity, action):
        log.append((entity, action))
        return entity.meta()["owner"] == get_caller_id()

    fresh_db.set_write_guard(guard)
    yield log
    fresh_db.set_write_guard(None)


def test_linking_from_the_to_many_side_asks_for_the_target(fresh_db, asked):
    task = owned_by(fresh_db, "bob", lambda: Task(title="bob's"))
    project = owned_by(fresh_db, "mallory", lambda: Project(name="mallory's"))
    with fresh_db.as_user("mallory"), pytest.raises(PermissionDenied, match="Task@1"):
        project.link("tasks", task)
    assert asked == [(task, ACTION_MODIFY)]
    assert task.project is None and task.version == 1 and len(project.tasks) == 0
    with fresh_db.as_user("bob"):
        task.link("project", project)  # membership of mallory's set: not asked
    assert len(asked) == 1 and project.version == 1 and task in project.tasks


def test_one_to_one_asks_for_the_target_and_the_partner_it_clears(fresh_db, asked):
    ann, al = owned_by(fresh_db, "alice", lambda: (Person(name="ann"), Person(name="al")))
    with fresh_db.as_user("alice"):
        ann.link("spouse", al)
    mal, pat = owned_by(fresh_db, "mallory", lambda: (Person(name="mal"), Person(name="pat")))
    bo = owned_by(fresh_db, "bob", lambda: Person(name="bo"))
    with fresh_db.as_user("mallory"):
        with pytest.raises(PermissionDenied):
            mal.link("spouse", bo)  # bo's document would change
        with pytest.raises(PermissionDenied):
            mal.link("spouse", ann)  # and ann's, and al's (the partner cleared)
        mal.link("spouse", pat)  # both mallory's
    assert bo.spouse is None and ann.spouse is al and al.spouse is ann and mal.spouse is pat
    with fresh_db.as_user("alice"), pytest.raises(PermissionDenied, match="Person@3"):
        ann.link("spouse", mal)
    assert ann.spouse is al and mal.spouse is pat


def test_cascade_spares_what_the_guard_refuses(fresh_db, asked):
    project = owned_by(fresh_db, "mallory", lambda: Project(name="p"))
    mine = owned_by(fresh_db, "mallory", lambda: Task(title="mine", project=project))
    bobs = owned_by(fresh_db, "bob", lambda: Task(title="bob's", project=project))
    sticker = owned_by(fresh_db, "bob", lambda: Sticker(name="bob's sticker"))
    with fresh_db.as_user("bob"):
        sticker.link("projects", project)
    with fresh_db.as_user("mallory"):
        project.delete()
    assert (mine, ACTION_DELETE) in asked and (bobs, ACTION_DELETE) in asked
    assert Task.load(mine.id) is None
    assert Task.load(bobs.id) is bobs and bobs.project is None
    assert Sticker.load(sticker.id) is sticker and len(sticker.projects) == 0 and sticker.version == 1






def test_an_ad_hoc_relation_asks_for_the_other_entity_whose_document_it_rewrites(fresh_db, asked):
    """`add_relation` / `remove_relation` through an undeclared name keep the link in both documents,
    so they need the guard's leave for the other entity too."""

    class Badge(Entity):     # defined here: ad-hoc links load their targets by registered type name
        name = String()

    mine, hers = owned_by(fresh_db, "mallory", lambda: (Badge(name="mallory's"), Badge(name="hers")))
    bobs = owned_by(fresh_db, "bob", lambda: Badge(name="bob's"))
    with fresh_db.as_user("mallory"), pytest.raises(PermissionDenied, match="Badge@3"):
        mine.add_relation("likes", "liked_by", bobs)
    assert asked == [(bobs, ACTION_MODIFY)]
    assert mine.get_relations("likes") == [] and bobs.get_relations("liked_by") == []
    assert mine.version == 1 and bobs.version == 1
    with fresh_db.as_user("mallory"):
        mine.add_relation("likes", "liked_by", hers)     # both hers: allowed
    assert mine.get_relations("likes") == [hers] and hers.get_relations("liked_by") == [mine]
    fresh_db.set_write_guard(None)
    with fresh_db.as_user("bob"):
        bobs.add_relation("likes", "liked_by", mine)     # (made while the guard lets anything through)
    fresh_db.set_write_guard(lambda entity, action: entity.meta()["owner"] == get_caller_id())
    with fresh_db.as_user("mallory"), pytest.raises(PermissionDenied, match="Badge@3"):
        mine.remove_relation("liked_by", "likes", bobs)
    assert mine.get_relations("liked_by") == [bobs] and bobs.get_relations("likes") == [mine]
    assert bobs.version == 2
