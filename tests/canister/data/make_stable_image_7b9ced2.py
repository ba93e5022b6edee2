"""Writes stable_image_7b9ced2.json (for tests/canister/test_upgrade_old_image.py): the stable maps of a
canister as the code of commit 7b9ced2 (before issue 14's heap caches) left them. Run it from a checkout
of that commit: `git worktree add /tmp/old 7b9ced2 && cd /tmp/old && python
<repo>/tests/canister/data/make_stable_image_7b9ced2.py <repo>/tests/canister/data/stable_image_7b9ced2.json`.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path.cwd() / "canister" / "src"))   # the old checkout's canister, engine included
import db_api  # noqa: E402
from kybra.compiler.custom_modules.principal import Principal  # noqa: E402
from kybra_simple_db import MemoryMap  # noqa: E402

ADMIN = "evvln-dkyvs-32ztg-old72-roktw-evvu5-ycxvb-nvzcb-ygwyk-bl7u4-fqe"
ALICE = "mnnk5-gfqmo-4omau-3uj75-wcco3-qwour-lsvsv-tmcw3-2kwze-f6orv-yqe"
BOB = "rrkah-fqaaa-aaaaa-aaaaq-cai"
OPEN = {"read": {"Public": None}, "create": {"Anyone": None}, "modify": {"Owner": None},
        "delete": {"Owner": None}}


def _field(name: str, kind: str, high=None, indexed=True) -> dict:
    return {"name": name, "kind": {kind: None}, "required": False, "default": None, "min": None,
            "max": high, "indexed": indexed}


def _text(name: str, value: str) -> dict:
    return {"name": name, "value": {"Text": value}}


def main(out: str) -> None:
    clock = [1_700_000_000_000_000_000]
    certified = [b""]

    def tick() -> int:
        clock[0] += 1000
        return clock[0]

    maps = {"db": (MemoryMap(0, 128, 1024), 128, 1024), "audit": (MemoryMap(1, 80, 1024), 80, 1024),
            "meta": (MemoryMap(2, 128, 16384), 128, 16384), "cert": (MemoryMap(3, 128, 1100), 128, 1100)}
    api = db_api.DbApi(maps, clock=tick, principal=Principal.from_str,
                       set_certified_data=lambda data: certified.__setitem__(0, data),
                       data_certificate=lambda: None)
    api.install(ADMIN)
    for name, cert in (("u::Doc", True), ("u::Item", False)):
        typedef = {"name": name, "fields": [_field("title", "Text", 40.0), _field("n", "Int")],
                   "alias": "title" if cert else None, "relations": [], "policy": dict(OPEN, certified=cert)}
        assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    for i in range(40):
        fields = [_text("title", "doc" + str(i)), {"name": "n", "value": {"Int": i % 7}}]
        assert "Ok" in api.create(ALICE if i % 3 else BOB, "u::Doc", fields)
    for i in range(160):
        title = ["alpha", "beta", "gamma", "é-delta"][i % 4] + ("" if i % 5 else "-x" * 8)
        fields = [_text("title", title), {"name": "n", "value": {"Int": (i * 37) % 50 - 10}}]
        assert "Ok" in api.create(ALICE if i % 2 else BOB, "u::Item", fields)
    for i in range(1, 30, 3):
        owner = BOB if (i - 1) % 3 == 0 else ALICE
        assert "Ok" in api.update(owner, "u::Doc", i, [{"name": "n", "value": {"Int": 100 + i}}], None)
    for i in range(2, 160, 9):
        assert "Ok" in api.delete(ALICE if (i - 1) % 2 else BOB, "u::Item", i)
    # stepwise deletes left queued in the older single queue of jobs (a small delete budget)
    hub = {"name": "u::Hub", "fields": [_field("title", "Text", indexed=False)], "alias": None,
           "relations": [], "policy": dict(OPEN, certified=False)}
    to_hub = {"name": "hub", "kind": {"ManyToOne": None}, "target": "u::Hub", "reverse": "leaves",
              "on_delete": {"Cascade": None}}
    leaf = dict(hub, name="u::Leaf", relations=[to_hub])
    assert api.define_type(ADMIN, hub, False) == {"Ok": None}
    assert api.define_type(ADMIN, leaf, False) == {"Ok": None}
    api.gateway.db.delete_budget = 3
    for owner in (ALICE, ALICE, BOB):
        hub_id = api.create(owner, "u::Hub", [_text("title", "hub")])["Ok"]["id"]
        for _ in range(8):
            leaf_id = api.create(owner, "u::Leaf", [_text("title", "leaf")])["Ok"]["id"]
            assert api.link(owner, "u::Leaf", leaf_id, "hub", hub_id) == {"Ok": None}
        assert api.delete(owner, "u::Hub", hub_id) == {"Ok": None}
    assert api.gateway.delete_jobs_queued()
    image = {"source": "canister/src of commit 7b9ced2 (tests/canister/data/make_stable_image_7b9ced2.py)",
             "certified_data": certified[0].hex(),
             "maps": {name: sorted(stored[0].items()) for name, stored in maps.items()}}
    Path(out).write_text(json.dumps(image, separators=(",", ":"), sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
