"""Attacks on certified data at the service layer: a write path that skips the Merkle tree would make
certified reads of honest data fail verification (or prove stale data)."""

import json

from simple_db_client.errors import CertificateError
from test_certified_service import ADMIN, ALICE, Service, typedef, verify


def test_restored_entities_of_a_certified_type_are_proven():
    svc = Service()
    assert svc.api.define_type(ADMIN, typedef("c::Doc", True, alias="title"), False) == {"Ok": None}
    record = {
        "type": "c::Doc",
        "id": 5,
        "fields": {"title": "restored", "n": 3},
        "refs": {},
        "links": {},
        "owner": ALICE,
        "creator": ALICE,
        "updater": ALICE,
        "created": 1,
        "updated": 1,
        "version": 1,
    }
    page = {"format": "kybra-simple-db-dump/1", "records": [record]}
    assert svc.api.restore(ADMIN, json.dumps(page)) == {"Ok": 1}
    try:
        entity = verify(svc, "c::Doc", 5)
    except CertificateError as exc:
        raise AssertionError(f"a restored certified entity does not verify: {exc}") from None
    assert entity is not None and entity["fields"][0]["value"] == {"Text": "restored"}
