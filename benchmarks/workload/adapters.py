"""One adapter per package under test: the few places where the three APIs or internals differ.

The workload speaks the seed README's API (`Database.init`, `Entity`, `Person["alias"]`,
`load`, `load_some`, `delete`, relation lists). An adapter opens the database on given maps,
defines the benchmark's entity classes, and drops every in-memory cache for cold reads.
Standard library only: it runs inside each package's own environment.
"""

import gc
import importlib
from collections.abc import Callable
from typing import Any

PACKAGES = ("ours", "kybra-simple-db", "ic-python-db")


class Adapter:
    """The seed API as all three packages share it; subclasses override the differences."""

    module_name = "kybra_simple_db"

    def __init__(self) -> None:
        self.mod = importlib.import_module(self.module_name)
        self.version = getattr(self.mod, "__version__", "unknown")
        self.Person: Any = None
        self.Tag: Any = None
        self.maps: tuple[Any, Any] = (None, None)

    # -- database lifecycle -------------------------------------------------------------------
    def _reset_singleton(self) -> None:
        self.mod.Database._instance = None

    def open(self, data_map: Any, audit_map: Any) -> None:
        """Start a database on these maps (a fresh one, or a restart on existing data)."""
        self._reset_singleton()
        self.maps = (data_map, audit_map)
        self.mod.Database.init(db_storage=data_map, audit_enabled=True, db_audit=audit_map)
        if self.Person is None:
            self.Person, self.Tag = self._define_classes()
        self._register_classes()
        gc.collect()

    def reopen(self) -> None:
        """Drop every cache: a restart on the same storage, as after a canister upgrade."""
        self.open(*self.maps)

    def _register_classes(self) -> None:
        pass

    def _define_classes(self) -> tuple[Any, Any]:
        m = self.mod

        class Person(m.Entity):
            __alias__ = "name"
            name = m.String(min_length=1, max_length=50)
            age = m.Integer(min_value=0, max_value=1000)
            city = m.String(max_length=50)
            tags = m.ManyToMany("Tag", "people")

        class Tag(m.Entity):
            label = m.String(max_length=50)
            people = m.ManyToMany("Person", "tags")

        return Person, Tag

    # -- operations ---------------------------------------------------------------------------
    def create_person(self, i: int) -> Any:
        return self.Person(name=f"person-{i}", age=i % 100, city=f"city-{i % 37}")

    def create_tag(self, label: str) -> Any:
        return self.Tag(label=label)

    def get_by_id(self, entity_id: int) -> Any:
        return self.Person.load(str(entity_id))

    def get_by_alias(self, alias: str) -> Any:
        return self.Person[alias]

    def update(self, person: Any, value: int) -> None:
        person.age = value

    def delete(self, person: Any) -> None:
        person.delete()

    def page(self, after_id: int, count: int) -> list:
        """The next `count` live people with id > after_id (the seed's `load_some` starts at from_id)."""
        return self.Person.load_some(after_id + 1, count)

    def link(self, tag: Any, person: Any) -> None:
        tag.people.add(person)

    def unlink(self, tag: Any, person: Any) -> None:
        tag.people.remove(person)


class UpstreamAdapter(Adapter):
    """kybra-simple-db 0.5.0: a weakref registry plus a class-level set that pins every entity."""

    def reopen(self) -> None:
        self.mod.Entity._context.clear()
        super().reopen()

    def _register_classes(self) -> None:
        db = self.mod.Database.get_instance()
        for cls in (self.Person, self.Tag):
            db.register_entity_type(cls, cls.get_full_type_name())


class IcPythonDbAdapter(UpstreamAdapter):
    """ic-python-db 0.12.0: the same internals under another import name."""

    module_name = "ic_python_db"


class OursAdapter(Adapter):
    """This project's engine: pages through its cursor API (its `load_some` pages by offset)."""

    module_name = "kybra_simple_db"

    def page(self, after_id: int, count: int) -> list:
        return self.Person.page(after_id, count)[0]


ADAPTERS: dict[str, Callable[[], Adapter]] = {
    "ours": OursAdapter,
    "kybra-simple-db": UpstreamAdapter,
    "ic-python-db": IcPythonDbAdapter,
}
