"""A query's heap changes are dropped, so what a query needs is built in messages whose heap persists: every
type's shape after an upgrade and after a schema change (else each query of a type no update touched since
would build it again: ~0.7M instructions on Kybra's RustPython), and the principal text encoding's table in
post_upgrade (benchmarks.canister_wasm's `get` row measures the first query after a restart)."""

from service_maps import ADMIN, db_api, field, installed_api

OPEN = {"read": {"Public": None}, "create": {"Anyone": None}, "modify": {"Owner": None},
        "delete": {"Owner": None}}


def _type(name: str) -> dict:
    return {"name": name, "fields": [field("title", "Text")], "alias": None, "relations": [], "policy": OPEN}


def _shaped(api: db_api.DbApi) -> set:
    return set(api.registry.shapes)


def test_every_type_has_its_shape_after_an_upgrade():
    api, maps = installed_api()
    for name in ("w::A", "w::B", "w::C"):
        assert api.define_type(ADMIN, _type(name), False) == {"Ok": None}
    api.before_upgrade()
    upgraded = db_api.DbApi(maps, clock=api.clock, principal=api.principal)
    upgraded.after_upgrade()
    assert {"w::A", "w::B", "w::C"} <= _shaped(upgraded)
    assert _shaped(upgraded) == set(upgraded.registry.names())


def test_a_schema_change_builds_every_type_s_shape_in_its_own_message():
    api, _ = installed_api()
    assert api.define_type(ADMIN, _type("w::A"), False) == {"Ok": None}
    assert api.create(ADMIN, "w::A", [{"name": "title", "value": {"Text": "a"}}])["Ok"]["id"] == 1
    assert api.define_type(ADMIN, _type("w::B"), False) == {"Ok": None}
    # the change dropped every shape (a new generation); the message built them all again
    assert _shaped(api) == set(api.registry.names())
    shape = api.registry.shapes["w::A"]
    assert api.get(ADMIN, "w::A", 1)["Ok"]["id"] == 1
    assert api.registry.shapes["w::A"] is shape


def test_a_refused_schema_change_leaves_the_shapes_as_they_were():
    api, _ = installed_api()
    assert api.define_type(ADMIN, _type("w::A"), False) == {"Ok": None}
    before = dict(api.registry.shapes)
    assert "Err" in api.define_type("2vxsx-fae", _type("w::B"), False)   # anonymous: refused
    assert "w::B" not in api.registry.types
    assert all(api.registry.shapes.get(name) is shape for name, shape in before.items())
