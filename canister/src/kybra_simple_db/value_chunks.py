"""Values larger than the map's value size, split over several keys of a staged map.

The head key holds `~n`; the chunks are `key~0 .. key~n-1`, each at most `limit` UTF-8 bytes and
never split inside a character. Used for entity documents, key schemas and oversized audit entries.
"""

from typing import Optional

from . import key_layout as keys
from .db_errors import ValidationError


def chunk_count(head: Optional[str]) -> int:
    """How many chunks a head value announces (0 for a plain value or None)."""
    return int(head[1:]) if head and head.startswith(keys.CHUNK_MARK) else 0


def join(staged, key: str, head: str) -> str:
    """The whole value whose head is `head` (a `~n` head is replaced by its chunks joined)."""
    if not head.startswith(keys.CHUNK_MARK):
        return head
    return "".join(staged.get(keys.chunk_key(key, i)) or "" for i in range(int(head[1:])))


def split(text: str, size: int) -> list:
    """`text` cut into pieces of at most `size` UTF-8 bytes, on character boundaries."""
    data = text.encode("utf-8")
    out = []
    start = 0
    while start < len(data):
        end = min(start + size, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        out.append(data[start:end].decode("utf-8"))
        start = end
    return out


def write(staged, journal: list, key: str, text: str, limit: Optional[int],
          old_head: Optional[str] = None) -> None:
    """Store `text` under `key` (split when over `limit`); chunks the new value no longer needs go."""
    old_count = chunk_count(old_head)
    if limit is None or len(text) * 4 <= limit or len(text.encode("utf-8")) <= limit:
        if text.startswith(keys.CHUNK_MARK):
            raise ValidationError("values may not start with '~'")
        staged.put(key, text, journal)
        new_count = 0
    else:
        parts = split(text, limit)
        staged.check_key(keys.chunk_key(key, len(parts)))
        for i, part in enumerate(parts):
            staged.put(keys.chunk_key(key, i), part, journal)
        staged.put(key, keys.CHUNK_MARK + str(len(parts)), journal)
        new_count = len(parts)
    for i in range(new_count, old_count):
        staged.delete(keys.chunk_key(key, i), journal)


def remove(staged, journal: list, key: str, old_head: Optional[str]) -> None:
    """Remove `key` and its chunks."""
    for i in range(chunk_count(old_head)):
        staged.delete(keys.chunk_key(key, i), journal)
    staged.delete(key, journal)
