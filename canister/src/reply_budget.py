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
    """An upper estimate of the Candid-encoded size of a reply value (records, variants, lists, scalars):
    5 + UTF-8 bytes per text, 10 per number, 1 per null or bool, 32 per principal, 4 per record and 5 per
    list besides their items. The texts are sized together, one encode of their join (an encode per text
    costs ~24K instructions on Kybra's RustPython), and the common kinds without a call each."""
    texts = []
    kind = value.__class__
    if kind is dict:
        size = _walk(4, value.values(), texts)
    elif kind is list or kind is tuple:
        size = _walk(5, value, texts)
    else:
        size = _other(value, texts)
    if texts:
        size += len("".join(texts).encode("utf-8"))
    return size


_OPAQUE = set()
"""Classes whose values size as a principal (none of the kinds above): met before, so known at once."""


def _walk(size: int, items, texts: list) -> int:
    """`size` plus the sizes of `items` but their texts' bytes, which go on `texts`."""
    for item in items:
        kind = item.__class__   # (a quarter of a type() call; exact classes first, subclasses in _other)
        if kind is str:
            texts += (item,)   # (fewer instructions than a call of append on RustPython)
            size += 5
        elif kind is int:
            size += 10
        elif kind is dict:
            size = _walk(size + 4, item.values(), texts)
        elif kind is list or kind is tuple:
            size = _walk(size + 5, item, texts)
        elif item is None:
            size += 1
        elif kind in _OPAQUE:
            size += 32
        else:
            size += _other(item, texts)
    return size


def _other(value: object, texts: list) -> int:
    """The size of a value of any class (subclasses included) but its text's bytes, which go on `texts`."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        texts.append(value)
        return 5
    if isinstance(value, (int, float)):
        return 10
    if isinstance(value, dict):
        return _walk(4, value.values(), texts)
    if isinstance(value, (list, tuple)):
        return _walk(5, value, texts)
    _OPAQUE.add(value.__class__)   # (a principal; any class that is none of the above sizes so)
    return 32
