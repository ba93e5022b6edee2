"""The format tag of a dump page, and what a restore page of each format may hold.

`kybra-simple-db-dump/1`: records of entities (with every many-to-many link they list) and type end
markers. `kybra-simple-db-dump/2`: the same, plus a record announcing `more_links` and the continuation
records `{"type", "links_of", "links"}` that carry the rest of an entity's links on later pages. A dump
page is tagged /2 only when it holds such records, so a dump without them restores into a canister that
reads /1 only; such a canister refuses a /2 page by its tag rather than restoring half an entity.
"""

from error_map import invalid

FORMAT = "kybra-simple-db-dump/1"
CONTINUED_FORMAT = "kybra-simple-db-dump/2"


def continues(record) -> bool:
    """Whether a record is part of an entity whose links span several records."""
    return isinstance(record, dict) and ("links_of" in record or "more_links" in record)


def page_format(records: list) -> str:
    """The oldest format that holds these records."""
    for record in records:
        if continues(record):
            return CONTINUED_FORMAT
    return FORMAT


def check_format(page) -> list:
    """The records of a restore page whose tag is a format this canister reads and fits them."""
    if not isinstance(page, dict) or page.get("format") not in (FORMAT, CONTINUED_FORMAT):
        raise invalid("restore data is not a " + FORMAT + " or " + CONTINUED_FORMAT + " page")
    records = page.get("records")
    if not isinstance(records, list):
        raise invalid("restore data has no records list")
    if page["format"] == FORMAT:
        for record in records:
            if continues(record):
                raise invalid("a record that continues an entity's links needs a " + CONTINUED_FORMAT
                              + " page")
    return records
