"""Caps that keep every endpoint bounded: arguments under 2 MiB, replies under 2 MiB (update) / 3 MiB (query).

Each reply is also measured while it is built (see reply_budget.ReplyBudget), so a page stops early
rather than exceed its byte budget; these numbers are the documented upper bounds (docs/canister.md).
"""

MAX_PAGE = 100  # entities, ids or audit entries per page
DEFAULT_PAGE = 50  # used when the caller asks for 0
MAX_LINK_PAGE = 1000  # ids per `links` page (8 bytes each in Candid)
MAX_BATCH = 100  # operations per batch
MAX_FILTERS = 4  # equality filters per list/count
MAX_LIST_SCAN = 1000  # entities one `list` call reads past hidden ones (Owner-read types, non-admins)

MAX_TYPES = 100
MAX_FIELDS = 32  # per type
MAX_RELATIONS = 16  # per type
MAX_NAME = 40  # characters in a field, relation or namespace/type name part (the engine's limit)
MAX_TEXT = 2000  # characters in one Text value (a FieldDef max may lower it, never raise it)
MAX_INDEXED_TEXT = 256  # characters in a Text value of an indexed or alias field (keys hash long ones)
MAX_ADMINS = 50
MAX_TYPEDEF_JSON = 16_000  # bytes of one stored type definition (meta map values hold 16 KiB)
MAX_DUMP_DATA = 1_000_000  # characters of JSON in one dump page
MAX_RESTORE_DATA = 1_500_000  # characters of JSON accepted by one restore call
DELETE_INSTRUCTIONS = 30_000_000_000  # a delete (with its cascades) stops with Limit past this, below 40B
DELETE_STEP_INSTRUCTIONS = 15_000_000_000  # a step of a stepwise delete starts no new entity past this
QUERY_INSTRUCTIONS = 3_000_000_000  # scanning queries start no more reads past this (5B query limit)
# A dump page takes no more records once reading and encoding them (each is encoded as it is read) and
# what the page's text will still cost (dump_tail) pass this; the record that passes it is the last, and
# one record costs under 0.7B instructions (a hub of 1,568 to-one relations, 4,000 link id buckets).
DUMP_INSTRUCTIONS = 3_000_000_000
# What a dump page's text costs once its records are encoded: joining their text, the page around it
# and the reply (Kybra's conversion and Candid encoding of the text), measured under Kybra's RustPython
# (tests/canister/test_canister_attacks_rustpython.py checks these hold).
DUMP_TAIL_INSTRUCTIONS = 10_000_000
DUMP_TAIL_PER_CHAR = 16
# A query page takes no more items once the message has used this many: an entity of a type that 1,568
# to-one relations point at takes ~0.5B instructions to build under Kybra's RustPython.
REPLY_INSTRUCTIONS = 3_500_000_000
# What a query page still costs per item once it is built: Kybra's conversion of the returned value walks
# each field value and calls to_str() on each Principal. Measured after the page under Kybra's RustPython
# (localnet's runtime): 8.8M per entity that 1,568 to-one relations point at, 5.7M per entity of 32
# Principal fields (41% of building the page), 2.7M per entity of 32 Int fields, 1.7M per audit entry.
REPLY_ITEM_INSTRUCTIONS = 10_000_000
BATCH_INSTRUCTIONS = 30_000_000_000  # a batch starts no operation past this (one takes far less than 10B)
# post_upgrade reads ahead what the first messages after it would read cold (restart_warmup.py) until it
# has spent this many instructions on it (post_upgrade's limit is 300B; the rest of it takes ~3.7B) or has
# read this many index nodes and headers (a quarter of the node cache, ordered_index._CACHE_SIZE).
WARM_INSTRUCTIONS = 2_000_000_000
WARM_NODES = 256
WARM_NAMES = 256  # and hashes this many field and relation names ahead at most (rep_hash caches 512)
MAX_RESTORE_ID_GAP = 10_000_000  # how far a restored id may run ahead of its type's highest id

# Bytes, estimated, below the 2 MiB update reply limit. Query methods use it too: a query method called
# as an update (the icp CLI does so without --query) is held to the update limit.
REPLY_BUDGET = 1_800_000

MAX_INT = 2**63 - 1  # Int values are stored as JSON numbers; keep them in the signed 64-bit range
MIN_INT = -(2**63)
MAX_NAT64 = 2**64 - 1


def page_size(requested: int, cap: int = MAX_PAGE) -> int:
    """The page size to use: `requested` capped at `cap`, or DEFAULT_PAGE (capped) when it is 0."""
    if requested <= 0:
        return min(DEFAULT_PAGE, cap)
    return min(requested, cap)


def dump_tail(chars: int) -> int:
    """Instructions a dump page of `chars` characters still costs once its records are encoded."""
    return DUMP_TAIL_INSTRUCTIONS + DUMP_TAIL_PER_CHAR * chars
