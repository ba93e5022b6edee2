"""`TimestampedMixin`: public timestamps, creator/updater/owner and ownership helpers.

Every entity keeps this metadata (restored from storage on load); the mixin exposes it under the
seed's public names.
"""


class TimestampedMixin:
    """Adds `timestamp_created`, `timestamp_updated` (ns), `creator`, `updater`, `owner` to an Entity.

    As in the original, an entity of a class with this mixin may be changed only by its owner
    (others get PermissionError), and its `serialize()` starts with these fields.
    """

    __owns_entities__ = True

    @property
    def timestamp_created(self) -> int:
        return self._meta.get("tc")

    @property
    def timestamp_updated(self) -> int:
        return self._meta.get("tu")

    @property
    def creator(self) -> str:
        return self._meta.get("c")

    @property
    def updater(self) -> str:
        return self._meta.get("u")

    @property
    def owner(self) -> str:
        return self._meta.get("o")
