"""Size estimates for replies, so pages stop before the IC's reply limits (2 MiB update, 3 MiB query)."""


class ReplyBudget:
    """A byte allowance consumed item by item."""

    def __init__(self, limit: int):
        self.left = limit

    def take(self, size: int) -> bool:
        """Consume `size` bytes; False (consuming nothing) when they do not fit."""
        if size > self.left:
            return False
        self.left -= size
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
