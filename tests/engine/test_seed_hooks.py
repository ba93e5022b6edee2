"""Every example of the seed HOOKS.md (imports read `kybra_simple_db` instead of `ic_python_db`)."""

import pytest
from kybra_simple_db import ACTION_CREATE, ACTION_DELETE, ACTION_MODIFY, Entity, Integer, String


def test_hook_signature_example():
    class Thing(Entity):
        label = String()

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            # entity: the Entity instance being changed
            # field_name: name of the field being changed (None for entity-level actions like delete)
            # old_value: current value of the field
            # new_value: proposed new value
            # action: ACTION_CREATE, ACTION_MODIFY, or ACTION_DELETE
            return True, new_value # (allow: bool, modified_value: any)

    thing = Thing(label="x")
    thing.label = "y"
    thing.delete()
    assert Thing.count() == 0


def test_validation_example():
    from kybra_simple_db import Entity, Integer, String

    class User(Entity):
        username = String()
        email = String()
        age = Integer()

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            if field_name == "username" and new_value and len(new_value) < 3:
                return False, None  # Raises ValueError
            if field_name == "email" and new_value and "@" not in new_value:
                return False, None
            if field_name == "age" and new_value is not None:
                if new_value < 0 or new_value > 150:
                    return False, None
            return True, new_value

    with pytest.raises(ValueError):
        User(username="ab")
    assert User.count() == 0
    user = User(username="abc", email="a@b.c", age=30)
    with pytest.raises(ValueError):
        user.age = 151
    with pytest.raises(ValueError):
        user.email = "nope"
    assert (user.age, user.email, user.version) == (30, "a@b.c", 1)


def test_transformation_example():
    class User(Entity):
        name = String()
        age = Integer()

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            if field_name == "name" and new_value:
                return True, new_value.upper()  # Auto-capitalize
            if field_name == "age" and new_value and new_value > 150:
                return True, 150  # Clamp to max
            return True, new_value

    user = User(name="alice", age=200)
    assert user.name == "ALICE"
    assert user.age == 150
    assert User.load(user._id).age == 150


def test_prevent_deletion_example():
    from kybra_simple_db import ACTION_DELETE

    class Account(Entity):
        name = String()
        protected = Integer()

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            if action == ACTION_DELETE and entity.protected == 1:
                return False, None  # Raises PermissionError
            return True, new_value

    admin = Account(name="Admin", protected=1)
    with pytest.raises(PermissionError, match="Hook rejected deletion"):
        admin.delete() # Raises PermissionError: "Hook rejected deletion"
    assert Account.load(admin._id) is admin and Account.count() == 1


def test_audit_logging_example():
    from kybra_simple_db import ACTION_DELETE, ACTION_MODIFY

    changes = []

    class AuditedDocument(Entity):
        title = String()
        content = String()

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            if action == ACTION_MODIFY and field_name:
                changes.append({
                    "entity_id": entity._id,
                    "field": field_name,
                    "old_value": old_value,
                    "new_value": new_value,
                })
            if action == ACTION_DELETE:
                changes.append({
                    "entity_id": entity._id,
                    "action": "deleted",
                })
            return True, new_value

    doc = AuditedDocument(title="a", content="b")
    doc.title = "c"
    doc.delete()
    assert changes == [
        {"entity_id": "1", "field": "title", "old_value": "a", "new_value": "c"},
        {"entity_id": "1", "action": "deleted"},
    ]


def test_derived_field_example():
    class User(Entity):
        name = String()
        slug = String()

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            if field_name == "name" and new_value and not entity.slug:
                entity._do_not_save = True
                entity.slug = new_value.lower().replace(" ", "-")
                entity._do_not_save = False
            return True, new_value

    user = User(name="John Doe")
    assert user.slug == "john-doe"
    assert User.load(user._id) is user
    assert '"slug":"john-doe"' in Entity.db()._storage.get("1:1")


def test_access_control_hook_example():
    from kybra_simple_db import ACTION_DELETE, ACTION_MODIFY, Database, Entity, String
    from kybra_simple_db.context import get_caller_id
    from kybra_simple_db.mixins import TimestampedMixin

    class Document(Entity, TimestampedMixin):
        title = String()

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            caller = get_caller_id()
            if action in (ACTION_MODIFY, ACTION_DELETE):
                if entity._owner != caller:
                    return False, None  # Only owner can modify/delete
            return True, new_value

    db = Database.get_instance()
    with db.as_user("alice"):
        doc = Document(title="t")
    with db.as_user("bob"):
        with pytest.raises(ValueError):
            doc.title = "x"
        with pytest.raises(PermissionError):
            doc.delete()
    with db.as_user("alice"):
        doc.delete()
    assert Document.count() == 0


def test_create_hook_runs_per_field():
    seen = []

    class Item(Entity):
        a = String()
        b = Integer()

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            seen.append((field_name, action))
            return True

    Item(a="x", b=1)
    assert seen == [("a", ACTION_CREATE), ("b", ACTION_CREATE)]
    assert ACTION_MODIFY == "modify" and ACTION_DELETE == "delete"
