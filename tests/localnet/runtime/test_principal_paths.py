"""The reply plans localnet's rustpython guest follows to convert Principals (localnet/principal_paths.py)."""

from kybra import Principal

from benchmarks.canister_wasm import IFACE
from localnet import rp_marshal
from localnet.candid_types import Interface, Prim, Record, Ref, Variant, Vec
from localnet.principal_paths import PRINCIPAL, WALK, holds_principal, reply_plan


def test_the_entity_reply_plan_names_exactly_the_principal_paths():
    plan = reply_plan(IFACE, IFACE.methods["get"].returns)
    entity = plan[1]["Ok"]
    assert set(entity[1]) == {"owner", "creator", "updater", "fields"}
    assert entity[1]["owner"] == PRINCIPAL
    assert entity[1]["fields"] == ("v", ("r", {"value": ("r", {"Principal": PRINCIPAL})}))
    assert "Err" not in plan[1]  # the error variant holds no principal


def test_replies_without_principals_have_no_plan_and_optional_ones_are_marked():
    assert reply_plan(IFACE, IFACE.methods["count"].returns) is None
    assert reply_plan(IFACE, IFACE.methods["whoami"].returns) == PRINCIPAL
    assert reply_plan(IFACE, IFACE.methods["admins"].returns) == ("v", PRINCIPAL)
    certified = reply_plan(IFACE, IFACE.methods["get_certified"].returns)[1]["Ok"]
    assert certified[1]["entity"][0] == "o"


def test_a_recursive_type_holding_principals_is_walked_whole():
    tree = Variant((("leaf", Prim("principal")), ("node", Vec(Ref("Tree")))))
    plain = Variant((("n", Prim("nat")), ("more", Vec(Ref("Plain")))))
    iface = Interface(types={"Tree": tree, "Plain": plain})
    plan = reply_plan(iface, (Ref("Tree"),))
    assert plan == ("r", {"leaf": PRINCIPAL, "node": ("v", WALK)})
    assert reply_plan(iface, (Ref("Plain"),)) is None
    assert reply_plan(iface, (Record((("0", Prim("text")), ("1", Prim("principal"))), tuple=True),)) == (
        "t",
        ((1, PRINCIPAL),),
    )


def test_the_host_flags_arguments_that_hold_principals():
    p = Principal.from_str("aaaaa-aa")
    assert holds_principal(["t", [{"name": "x", "value": {"Principal": p}}]])
    assert not holds_principal(["t", [{"name": "x", "value": {"Text": "aaaaa-aa"}}], None])


def test_a_principal_crosses_as_its_text_and_a_bad_text_is_refused():
    data = rp_marshal.dumps(Principal.from_str("2vxsx-fae"))
    assert data == rp_marshal.dumps(frozenset(("2vxsx-fae",)))
    assert rp_marshal.loads(data).to_str() == "2vxsx-fae"
    try:
        rp_marshal.loads(rp_marshal.dumps(frozenset(("2vxsx-fad",))))
    except rp_marshal.MarshalError as e:
        assert "could not convert value to Principal" in str(e)
    else:
        raise AssertionError("a bad principal text was accepted")
