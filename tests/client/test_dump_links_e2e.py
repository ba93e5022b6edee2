"""`simpledb export` / `simpledb import` of an entity with more links than one dump page holds, over HTTP
against localnet: the source canister is simple_db with dump pages of at most 10 link ids (the same
source, the engine's cap lowered), so 35 links span pages of continuation records; an interrupted import
resumes; a page of an older dump that carries more link ids than a restore page takes is split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from simple_db_client import Create, FieldDef, Link, RelationDef, TypeDef, dump_file
from simple_db_client.cli import cli

REPO = Path(__file__).resolve().parents[2]
LINKS = 35
SMALL_PAGES = f'''import sys
sys.path.insert(0, {str(REPO / "canister" / "src")!r})
from kybra_simple_db import dump_restore as _dump_restore
_dump_restore.MAX_DUMP_LINK_IDS = 10
'''


@pytest.fixture(scope="module")
def source(net, tmp_path_factory):
    """A canister with dump pages of at most 10 link ids, holding a group linked to LINKS people."""
    folder = tmp_path_factory.mktemp("small-pages")
    entry = folder / "main.py"
    entry.write_text(SMALL_PAGES + (REPO / "canister" / "src" / "main.py").read_text())
    net.localnet.deploy("simple_db_small_pages", entry, controllers=[net.admin.principal.bytes])
    cid = net.localnet.canister_id("simple_db_small_pages")
    with net.client(net.admin, canister_id=cid) as db:
        # the group's type comes first, so its links are dumped (and restored) before the people
        db.define_type(TypeDef("g::Group", [FieldDef("name", "Text")]))
        db.define_type(TypeDef("g::Person", [FieldDef("name", "Text")],
                               relations=[RelationDef("groups", "ManyToMany", "g::Group", "members")]))
        group = db.create("g::Group", name="hub").id
        db.batch([Create("g::Person", {"name": f"p{i}"}) for i in range(LINKS)])
        db.batch([Link("g::Person", person, "groups", group) for person in range(1, LINKS + 1)])
    return cid


def _simpledb(net, canister_id: str, *args: str) -> str:
    env = {"SIMPLEDB_URL": net.url, "SIMPLEDB_CANISTER_ID": canister_id,
           "SIMPLEDB_IDENTITY": str(net.admin_pem), "SIMPLEDB_LOCAL": "1"}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, f"simpledb {' '.join(args)}: {result.output}"
    return result.output


def _pages(path: Path) -> list[dict]:
    return [json.loads(json.loads(line)["data"]) for line in path.read_text().splitlines()[1:]]


def _link_ids(page: dict) -> int:
    return sum(len(ids) for r in page["records"] for ids in (r.get("links") or {}).values())


def test_export_and_import_split_an_entity_s_links_across_pages(net, source, tmp_path):
    path = tmp_path / "export.jsonl"
    _simpledb(net, source, "export", str(path), "--page-size", "100")
    pages = _pages(path)
    assert len(pages) >= 4 and max(_link_ids(page) for page in pages) <= 10
    assert {"kybra-simple-db-dump/1", "kybra-simple-db-dump/2"} >= {p["format"] for p in pages}
    assert sum(1 for p in pages for r in p["records"] if "links_of" in r) >= 3
    copy = net.fresh_canister()
    summary = json.loads(_simpledb(net, copy, "import", str(path), "--json"))
    assert summary == {"entities": LINKS + 1, "skipped": 0, "pages": len(pages)}
    with net.client(net.admin, canister_id=copy) as db:
        assert list(db.links("g::Group", 1, "members")) == list(range(1, LINKS + 1))
        assert list(db.links("g::Person", 7, "groups")) == [1]


def test_an_import_cut_between_continuations_resumes_with_skip_existing(net, source, tmp_path):
    path = tmp_path / "export.jsonl"
    _simpledb(net, source, "export", str(path), "--page-size", "100")
    lines = path.read_text().splitlines()
    pages = enumerate(_pages(path), start=2)     # line numbers: the header is line 1
    cut = next(n for n, page in pages if any("links_of" in r for r in page["records"]))
    partial = tmp_path / "partial.jsonl"
    partial.write_text("\n".join(lines[:cut]) + "\n")    # up to the first continuation, inclusive
    copy = net.fresh_canister()
    first = json.loads(_simpledb(net, copy, "import", str(partial), "--json"))["entities"]
    summary = json.loads(_simpledb(net, copy, "import", str(path), "--skip-existing", "--json"))
    assert first >= 1 and summary["entities"] == LINKS + 1 - first and summary["skipped"] == first
    with net.client(net.admin, canister_id=copy) as db:
        assert list(db.links("g::Group", 1, "members")) == list(range(1, LINKS + 1))


def test_a_page_with_more_link_ids_than_a_restore_takes_is_imported_in_pieces(net, source, tmp_path,
                                                                             monkeypatch):
    path = tmp_path / "export.jsonl"
    with net.client(net.admin, canister_id=source) as db:
        db.export_to(path, page_size=100)
    lines = path.read_text().splitlines()
    records = [r for page in _pages(path) for r in page["records"]]
    whole = {"type": "g::Group", "id": 1}
    for record in records:           # the group's links in one record, as an older dump had them
        if record.get("id") == 1 and record["type"] == "g::Group":
            whole = dict(record, links={"members": list(range(1, LINKS + 1))})
            whole.pop("more_links")
    people = [r for r in records if r["type"] == "g::Person"]
    schema = _pages(path)[0]["schema"]
    old = {"format": "kybra-simple-db-dump/1", "schema": schema, "records": [whole] + people}
    older = tmp_path / "older.jsonl"
    older.write_text(lines[0] + "\n" + json.dumps({"data": json.dumps(old)}) + "\n")
    monkeypatch.setattr(dump_file, "MAX_PAGE_LINK_IDS", 8)
    pieces = dump_file.split_page(json.dumps(old))
    assert len(pieces) == 5 and all(_link_ids(json.loads(p)) <= 8 for p in pieces)
    with net.client(net.admin, canister_id=net.fresh_canister()) as copy:
        assert copy.import_from(older) == LINKS + 1
        assert list(copy.links("g::Group", 1, "members")) == list(range(1, LINKS + 1))
