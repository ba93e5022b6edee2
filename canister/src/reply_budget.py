"""Size estimates for replies, so pages stop before the IC's reply limits (2 MiB update, 3 MiB query)."""


class ReplyBudget:
    """A byte allowance consumed item by item; with a `meter`, also the message's instructions: a page
    of entities that are costly to build (many relations, short names) stops before the query limit.
    Items are taken once built, so the meter counts building them; `per_item` is what turning each item
    taken into the reply will still cost (Kybra's conversion of the returned value), reserved ahead."""

    def __init__(self, limit: int, meter=None, instructions: int = 0, per_item: int = 0):
        self.left = limit
        self.meter = meter
        self.instructions = instructions
        self.per_item = per_item
        self.reserved = per_item  # for the items taken and the one offered

    def take(self, size: int) -> bool:
        """Consume `size` bytes; False (consuming nothing) when they do not fit, or when the message has
        used its instructions, the conversion of the items taken and of this one reserved."""
        if size > self.left or (self.meter is not None and self.meter() + self.reserved > self.instructions):
            return False
        self.left -= size
        self.reserved += self.per_item
        return True


def entity_size(value: object) -> int:
    """An upper estimate of the Candid-encoded size of a reply value (records, variants, lists, scalars)."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode("utf-8")) + 5
    if isinstance(value, (int, float)):
        return 10
    if isinstance(value, dict):
        return 4 + sum(entity_size(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return 5 + sum(entity_size(v) for v in value)
    return 32  # a principal: at most 29 bytes plus its length
