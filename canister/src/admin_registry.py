"""The admin set: the installer plus principals added by admins, kept in one key of the meta map."""

import json

import api_limits
from error_map import conflict, invalid, limit

ANONYMOUS = "2vxsx-fae"
ADMINS_KEY = "admins"


class AdminRegistry:
    """Admins as principal texts, cached in the heap and written through to `meta` on every change."""

    def __init__(self, meta):
        self.meta = meta
        self.members = []
        self.reload()

    def reload(self) -> None:
        raw = self.meta.get(ADMINS_KEY)
        self.members = json.loads(raw) if raw is not None else []

    def is_admin(self, principal: str) -> bool:
        return principal in self.members

    def all(self) -> list:
        return self.members[:]

    def add(self, principal: str) -> None:
        if principal == ANONYMOUS:
            raise invalid("the anonymous principal cannot be an admin")
        if principal in self.members:
            raise conflict(principal + " is already an admin")
        if len(self.members) >= api_limits.MAX_ADMINS:
            raise limit("at most " + str(api_limits.MAX_ADMINS) + " admins")
        self._save(self.members + [principal])

    def remove(self, principal: str) -> None:
        if principal not in self.members:
            raise conflict(principal + " is not an admin")
        if len(self.members) == 1:
            raise conflict("the last admin cannot be removed")
        self._save([p for p in self.members if p != principal])

    def _save(self, members: list) -> None:
        self.meta.insert(ADMINS_KEY, json.dumps(members, separators=(",", ":")))
        self.members = members
