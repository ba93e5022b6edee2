"""Relations whose target is a list of several types, as kybra-simple-db declares them
(`ManyToOne(["User", "Organization"], "assets")`): a value may be an entity of any listed type, or an
id or alias tried against each listed type in order (issue 8)."""

import gc

import pytest
from engine_helpers import dump_pages
from kybra_simple_db import (
    CASCADE,
    RESTRICT,
    ConflictError,
    Database,
    Entity,
    ManyToMany,
    ManyToOne,
    OneToMany,
    OneToOne,
    PermissionDenied,
    String,
    ValidationError,
)
from kybra_simple_db.context import get_caller_id


def _reopen():
    """A new Database over the same storage: what a canister upgrade does."""
    db = Database.get_instance()
    gc.collect()
    return Database.init(db_storage=db._storage)


def _define(asset_policy="set_null", tag_policy="set_null"):
    class User(Entity):
        __alias__ = "login"
        login = String()

    class Organization(Entity):
        __alias__ = "title"
        title = String()

    class Asset(Entity):
        __alias__ = "label"
        label = String()
        owner = ManyToOne(["User", "Organization"], "assets", on_delete=asset_policy)

    class Folder(Entity):
        name = String()
        members = ManyToMany(["User", "Organization"], "folders", on_delete=tag_policy)

    return User, Organization, Asset, Folder


def test_to_one_takes_an_entity_of_any_listed_type_and_links_one_in_total():
    User, Organization, Asset, _ = _define()
    alice, acme = User(login="alice"), Organization(title="acme")
    car = Asset(label="car", owner=alice)
    assert car.owner is alice and list(alice.assets) == [car]
    car.owner = acme
    assert car.owner is acme and list(acme.assets) == [car] and list(alice.assets) == []
    assert car.has_link("owner", acme) and not car.has_link("owner", alice)
    assert car.get_relations("owner") == [acme] and car.get_relations("owner", "User") == []
    car.owner = None
    assert car.owner is None and list(acme.assets) == []


def test_values_given_as_ids_and_alias_strings_are_tried_against_each_type_in_order():
    User, Organization, Asset, _ = _define()
    alice, acme = User(login="alice"), Organization(title="acme")
    car = Asset(label="car", owner="acme")
    assert car.owner is acme
    car.owner = "alice"
    assert car.owner is alice and list(acme.assets) == []
    car.owner = alice.id         # id "1" exists for both types: the first listed type wins
    assert car.owner is alice
    with pytest.raises(ValueError, match=r"No entity of types \['User', 'Organization'\] found with ID "
                                         r"or name 'nobody'"):
        car.owner = "nobody"
    assert car.owner is alice


def test_a_value_of_an_unlisted_type_is_a_type_error_and_changes_nothing():
    User, Organization, Asset, Folder = _define()
    alice = User(login="alice")
    car = Asset(label="car", owner=alice)
    box = Folder(name="box")
    with pytest.raises(TypeError, match="User, Organization"):
        car.owner = box
    with pytest.raises(TypeError):
        car.owner = 1.5
    with pytest.raises(TypeError):
        box.members = [alice, car]
    assert car.owner is alice and list(box.members) == [] and car.version == 1


def test_to_many_reads_the_union_and_a_list_is_distributed_by_type():
    User, Organization, Asset, Folder = _define()
    alice, bob, acme = User(login="alice"), User(login="bob"), Organization(title="acme")
    box = Folder(name="box", members=[alice, "acme"])
    assert list(box.members) == [alice, acme] and len(box.members) == 2
    assert alice in box.members and bob not in box.members and box.members
    assert list(alice.folders) == [box] and list(acme.folders) == [box]
    box.members = ["bob"]
    assert list(box.members) == [bob] and list(alice.folders) == [] and list(acme.folders) == []
    assert box.link("members", acme) and not box.link("members", acme)
    box.members.add(alice)
    assert sorted(e.serialize()["_type"] for e in box.members) == ["Organization", "User", "User"]
    assert box.unlink("members", acme) and not box.has_link("members", acme)
    ids, cursor = box.links("members")
    assert ids == sorted([alice._eid, bob._eid]) and cursor is None
    assert box.link_count("members") == 2
    box.members = acme                    # one entity for a to-many relation
    assert list(box.members) == [acme] and box.get_relations("members") == [acme]


def test_add_relation_and_the_relations_view_present_one_relation():
    User, Organization, Asset, Folder = _define()
    acme = Organization(title="acme")
    car = Asset(label="car")
    car.add_relation("owner", "assets", acme)
    assert car.owner is acme and car._relations == {"owner": [acme]}
    car.remove_relation("owner", "assets", acme)
    assert car.owner is None and car._relations == {}


def test_describe_and_schema_show_the_declared_relation():
    from kybra_simple_db.schema_check import build_schema
    User, Organization, Asset, _ = _define()
    relations = Asset.describe()["relations"]
    assert [r["name"] for r in relations] == ["owner"]
    assert relations[0]["target"] == ["User", "Organization"] and relations[0]["reverse"] == "assets"
    assert [r["reverse"] for r in User.describe()["relations"] if r["name"] == "assets"] == ["owner"]
    schema = build_schema({"Asset": Asset})
    assert schema["Asset"]["relationships"] == {"owner": {
        "type": "ManyToOne", "target": ["User", "Organization"], "inverse": "assets", "many": False,
        "kind": "relationship"}}


def test_set_null_clears_the_link_from_either_target_type():
    User, Organization, Asset, Folder = _define()
    alice, acme = User(login="alice"), Organization(title="acme")
    car, van = Asset(label="car", owner=alice), Asset(label="van", owner=acme)
    box = Folder(name="box", members=[alice, acme])
    alice.delete()
    acme.delete()
    assert car.owner is None and van.owner is None and list(box.members) == []
    _reopen()
    assert Asset["car"].owner is None and Asset["van"].owner is None


def test_cascade_deletes_through_both_target_types():
    User, Organization, Asset, Folder = _define(tag_policy=CASCADE)
    alice, acme = User(login="alice"), Organization(title="acme")
    box = Folder(name="box", members=[alice, acme])
    box.delete()
    assert User.load(alice.id) is None and Organization.load(acme.id) is None


def test_restrict_holds_for_either_target_type():
    User, Organization, Asset, Folder = _define(tag_policy=RESTRICT)
    acme = Organization(title="acme")
    box = Folder(name="box", members=[acme])
    with pytest.raises(ConflictError):
        box.delete()
    box.members = []
    box.delete()
    assert Folder.load(box.id) is None


def test_links_survive_a_reload_and_an_upgrade():
    User, Organization, Asset, Folder = _define()
    alice, acme = User(login="alice"), Organization(title="acme")
    Asset(label="car", owner=acme)
    Folder(name="box", members=[alice, acme])
    _reopen()
    User, Organization, Asset, Folder = _define()      # the canister's code runs again after an upgrade
    car, box = Asset["car"], Folder.load("1")
    assert car.owner is Organization["acme"] and list(Organization["acme"].assets) == [car]
    assert list(box.members) == [User["alice"], Organization["acme"]]
    car.owner = "alice"
    assert list(User["alice"].assets) == [car] and list(Organization["acme"].assets) == []


def test_serialize_gives_ids_and_deserialize_restores_the_links():
    User, Organization, Asset, Folder = _define()
    User(login="alice")
    Organization(title="other")
    acme = Organization(title="acme")
    car = Asset(label="car", owner=acme)
    box = Folder(name="box", members=["alice", acme])
    assert car.serialize()["owner"] == "2"     # ids as the original prints them (read back in type order)
    assert box.serialize()["members"] == ["1", "2"]
    data = car.serialize()
    car.owner = None
    again = Asset.deserialize(data)
    assert again is car and car.owner is acme
    fresh = Asset.deserialize({"_type": "Asset", "_id": "9", "label": "bike", "owner": "acme"})
    assert fresh.owner is acme


def test_deserialize_keeps_a_link_pending_until_a_listed_type_has_the_target():
    User, Organization, Asset, _ = _define()
    bike = Asset.deserialize({"_type": "Asset", "_id": "9", "label": "bike", "owner": "zed"})
    assert bike.owner is None and bike._pending == {"owner": "zed"}
    zed = Organization(title="zed")
    assert Entity.resolve_pending_relations() == 1
    assert bike.owner is zed and bike._pending == {}


def test_the_write_guard_holds_for_every_entity_a_union_assignment_touches(fresh_db):
    User, Organization, Asset, _ = _define()
    with fresh_db.as_user("bob"):
        bobs = Organization(title="bob's")
    with fresh_db.as_user("mallory"):
        car = Asset(label="car", owner="bob's")      # only the asset's side changes: bob's org is not written
        mine = User(login="mal")
    fresh_db.set_write_guard(lambda entity, action: entity.meta()["owner"] == get_caller_id())
    try:
        with fresh_db.as_user("mallory"):
            car.owner = mine
            assert car.owner is mine and list(bobs.assets) == []
    finally:
        fresh_db.set_write_guard(None)


def test_an_explicit_reverse_on_a_target_names_the_declared_relation():
    class User(Entity):
        login = String()
        assets = OneToMany("Asset", "owner")

    class Organization(Entity):
        title = String()

    class Asset(Entity):
        label = String()
        owner = ManyToOne(["User", "Organization"], "assets")

    alice, acme = User(login="alice"), Organization(title="acme")
    car = Asset(label="car", owner=alice)
    assert list(alice.assets) == [car]
    alice.assets = [Asset(label="van")]
    assert car.owner is None
    car.owner = acme
    assert list(acme.assets) == [car]
    assert [r["reverse"] for r in User.describe()["relations"]] == ["owner"]


def test_a_subclass_inherits_a_relation_to_several_types():
    class Asset(Entity):
        label = String()
        owner = ManyToOne(["User", "Organization"], "assets")

    class Vehicle(Asset):
        wheels = String()

    class User(Entity):         # as for one target type: the reverse side names the subclass
        login = String()
        assets = OneToMany("Vehicle", "owner")

    class Organization(Entity):
        title = String()
        assets = OneToMany("Vehicle", "owner")

    acme, alice = Organization(title="acme"), User(login="alice")
    truck = Vehicle(label="truck", owner=acme)
    assert truck.owner is acme and list(acme.assets) == [truck]
    truck.owner = alice
    assert list(acme.assets) == [] and list(alice.assets) == [truck]
    assert [r["name"] for r in Vehicle.describe()["relations"]] == ["owner"]


def test_linking_from_a_target_moves_a_to_one_off_its_other_type():
    User, Organization, Asset, _ = _define()
    alice, acme = User(login="alice"), Organization(title="acme")
    car = Asset(label="car", owner=alice)
    acme.assets.add(car)
    assert car.owner is acme and list(alice.assets) == [] and list(acme.assets) == [car]
    alice.link("assets", car)
    assert car.owner is alice and list(acme.assets) == []
    assert car.serialize()["owner"] == str(alice.id)


def test_a_one_to_one_to_several_types_links_one_entity_in_total():
    class Badge(Entity):
        code = String()
        holder = OneToOne(["Person", "Robot"], "badge")

    class Person(Entity):
        name = String()

    class Robot(Entity):
        serial = String()

    ann, r2 = Person(name="ann"), Robot(serial="r2")
    badge = Badge(code="b1", holder=ann)
    assert ann.badge is badge
    r2.badge = badge                    # from the other side: the badge leaves ann
    assert badge.holder is r2 and ann.badge is None and r2.badge is badge
    badge.holder = ann
    assert ann.badge is badge and r2.badge is None


def _hooked_holder(seen: list):
    """A Crew and a Widget whose `holder` is a Crew or a Widget; the Widget's hook appends to `seen` the
    field name of each event it hears."""
    class Crew(Entity):
        name = String()

    class Widget(Entity):
        label = String()
        holder = ManyToOne(["Crew", "Widget"], "widgets")

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            seen.append(field_name)
            return True, new_value

    return Crew, Widget


def test_hooks_see_the_declared_relation_name():
    seen = []
    Crew, Widget = _hooked_holder(seen)
    crew = Crew(name="c")
    widget = Widget(label="w")
    widget.holder = crew
    assert "holder" in seen and not [name for name in seen if "__" in name]


def test_a_relation_listing_a_type_twice_is_refused():
    with pytest.raises(ValidationError, match="repeat"):
        class Bad(Entity):
            other = ManyToOne(["Bad", "Bad"], "others")


def test_dump_and_restore_keep_the_links_of_every_listed_type(fresh_db):
    from kybra_simple_db import MemoryMap
    User, Organization, Asset, Folder = _define()
    alice, acme = User(login="alice"), Organization(title="acme")
    Asset(label="car", owner=acme)
    Asset(label="bike", owner=alice)
    Folder(name="box", members=[alice, acme])
    before = fresh_db.dump_json()
    pages = dump_pages(fresh_db, 2)
    copy = Database.init(db_storage=MemoryMap(0, 100, 1000))
    for page in pages:
        copy.restore(page)
    assert copy.dump_json() == before
    assert Asset["car"].owner is Organization["acme"] and Asset["bike"].owner is User["alice"]
    assert list(Folder.load("1").members) == [User["alice"], Organization["acme"]]
    assert list(Organization["acme"].folders) == [Folder.load("1")]


def test_refs_name_the_declared_to_one_relation():
    User, Organization, Asset, _ = _define()
    acme = Organization(title="acme")
    assert Asset(label="car", owner=acme).refs() == {"owner": acme._eid}
    assert Asset(label="van").refs() == {"owner": None}


def test_a_part_name_too_long_for_a_storage_key_is_refused_at_definition():
    with pytest.raises(ValidationError, match="longer than 60"):
        class Thing(Entity):
            a_rather_long_relation_name_for_this = ManyToOne(
                ["Thing", "AnotherQuiteLongTypeNameForTesting"], "things")


def test_view_and_stored_view_show_the_refs_and_values_of_a_union_relation():
    User, Organization, Asset, _ = _define()
    acme = Organization(title="acme")
    car = Asset(label="car", owner=acme)
    expected = (car.id, car.values(), car.refs())
    assert car.view()[:3] == expected
    assert car.live_view()[:3] == expected    # a union's refs are rewritten: the live view is `view()`
    assert Asset.stored_view(car.id)[:3] == expected
    eid = car.id
    del car
    gc.collect()
    assert Asset.stored_view(eid)[:3] == expected


def test_delete_linked_over_several_types_is_one_operation_refused_whole(fresh_db):
    """`delete_linked` on a relation to several types works its parts in one operation: a target of a
    later part the caller may not delete refuses the call, and the earlier parts' deletes are undone."""
    User, Organization, Asset, Folder = _define()
    with fresh_db.as_user("mallory"):
        mine = User(login="mal")
    with fresh_db.as_user("bob"):
        bobs = Organization(title="bob's")
    with fresh_db.as_user("mallory"):
        box = Folder(name="box", members=[mine, bobs])
    fresh_db.set_write_guard(lambda entity, action: entity.meta()["owner"] == get_caller_id())
    try:
        with fresh_db.as_user("mallory"), pytest.raises(PermissionDenied):
            box.delete_linked("members")
    finally:
        fresh_db.set_write_guard(None)
    assert User.load(mine.id) is not None and Organization.load(bobs.id) is not None
    assert sorted(e.id for e in box.members) == sorted([mine.id, bobs.id])


def test_an_open_class_links_a_relation_to_several_types_given_at_create():
    """A class that accepts undeclared attributes (`__strict__ = False`) still links its declared
    relation to several types when created with it, by entity or by id, rather than storing the value as
    an ad-hoc field."""
    class User(Entity):
        login = String()

    class Organization(Entity):
        title = String()

    class Asset(Entity):
        __strict__ = False
        label = String()
        holder = ManyToOne(["User", "Organization"], "assets")

    alice, acme = User(login="alice"), Organization(title="acme")
    car = Asset(label="car", holder=acme, colour="red")
    bike = Asset(label="bike", holder=1)       # an id: tried against User first
    assert car.holder is acme and list(acme.assets) == [car] and car.colour == "red"
    assert bike.holder is alice and list(alice.assets) == [bike]
    assert car.serialize() == {"_type": "Asset", "_id": car._id, "label": "car", "colour": "red",
                               "holder": acme._id}


@pytest.mark.parametrize("stepwise", [False, True])
def test_a_delete_that_unlinks_shows_hooks_the_declared_relation_name(stepwise):
    seen = []
    Crew, Widget = _hooked_holder(seen)
    crew = Crew(name="c")
    widget = Widget(label="w", holder=crew)
    seen.clear()
    if stepwise:
        crew.delete_in_steps()
    else:
        crew.delete()
    assert widget.holder is None and seen == ["holder"]


@pytest.mark.parametrize("several", [False, True])
def test_an_open_class_refuses_a_relation_set_as_a_field_value(fresh_db, several):
    """`update_fields` of an open class takes undeclared names as fields, but not a relation's name (nor
    a part of a relation to several types): set as a value it would move the link without its reverse
    side or the write guard. The refusal changes nothing; assigning the relation still works."""
    class User(Entity):
        login = String()

    class Asset(Entity):
        __strict__ = False
        label = String()
        holder = ManyToOne(["User", "Asset"] if several else "User", "assets")

    alice, bob = User(login="alice"), User(login="bob")
    car = Asset(label="car", holder=alice)
    stored = dict(fresh_db._storage._data)
    names = ["holder", "holder__User"] if several else ["holder"]
    for name in names:
        for value in (bob, int(bob._id), "junk"):
            with pytest.raises(ValidationError):
                car.update_fields({"label": "bus", name: value, "colour": "red"})
    assert dict(fresh_db._storage._data) == stored
    assert car.holder is alice and list(alice.assets) == [car] and list(bob.assets) == []
    assert car.version == 1 and car.label == "car"
    car.holder = bob
    assert car.holder is bob and list(bob.assets) == [car] and list(alice.assets) == []
