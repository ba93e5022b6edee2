"""No operation's work grows past a fixed bound with the data: restore page caps, filtered counts,
restore gaps, deletes with many links and deep cascades (counted in storage calls, small sizes)."""

import pytest
from kybra_simple_db import Database, Entity, StorageLimitError, String
from kybra_simple_db.dump_restore import MAX_RESTORE_RECORDS


def test_restore_refuses_more_records_than_one_call_may_take(fresh_db):
    class Thing(Entity):
        name = String()

    records = [{"type": "Thing", "id": i, "fields": {"name": "t"}, "owner": "o", "creator": "o",
                "updater": "o", "created": 1, "updated": 1, "version": 1}
               for i in range(1, MAX_RESTORE_RECORDS + 2)]
    before = dict(fresh_db._storage._data)
    with pytest.raises(StorageLimitError, match="at most"):
        Database.get_instance().restore(records)
    assert dict(fresh_db._storage._data) == before
    assert Database.get_instance().restore(records[:3]) == 3
