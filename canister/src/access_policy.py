"""Who may do what: a type's policy (read / create / modify / delete) applied to a caller and an owner.

Admins pass every check; the anonymous principal may only read what is Public; an owner-only action is
allowed to the entity's current owner. Denials are ApiErrors (Unauthenticated or Forbidden).
"""

from admin_registry import ANONYMOUS, AdminRegistry
from error_map import forbidden, unauthenticated

DEFAULT_POLICY = {"read": "Public", "create": "Anyone", "modify": "Owner", "delete": "Owner"}


class AccessPolicy:
    """Checks against the admin registry; every method raises ApiError on a denial."""

    def __init__(self, admins: AdminRegistry):
        self.admins = admins

    def is_admin(self, caller: str) -> bool:
        return caller != ANONYMOUS and self.admins.is_admin(caller)

    def require_signed_in(self, caller: str) -> None:
        if caller == ANONYMOUS:
            raise unauthenticated("the anonymous principal cannot change data; sign in with an identity")

    def require_admin(self, caller: str, action: str) -> None:
        self.require_signed_in(caller)
        if not self.admins.is_admin(caller):
            raise forbidden(action + " is for admins")

    def can_read(self, caller: str, policy: dict, owner: str) -> bool:
        rule = policy["read"]
        if rule == "Public" or self.is_admin(caller):
            return True
        return rule == "Owner" and caller != ANONYMOUS and caller == owner

    def check_type_read(self, caller: str, type_name: str, policy: dict) -> bool:
        """Refuse a type whose entities only admins read (whether or not the asked entity exists);
        True when the caller reads every entity of the type (as `reads_everything`)."""
        rule = policy["read"]
        if rule == "Public":
            return True
        if self.is_admin(caller):
            return True
        if rule == "Admins":
            raise forbidden("no read access to " + type_name)
        return False

    def reads_everything(self, caller: str, policy: dict) -> bool:
        """True when the caller may read every entity of a type (so counts and filters may be shown)."""
        return policy["read"] == "Public" or self.is_admin(caller)

    def check_create(self, caller: str, type_name: str, policy: dict) -> None:
        self.require_signed_in(caller)
        if policy["create"] == "Admins" and not self.admins.is_admin(caller):
            raise forbidden("only admins create " + type_name)

    def may_write(self, caller: str, policy: dict, action: str, owner: str) -> bool:
        """True when `caller` may `action` ("modify" or "delete") an entity of `owner` under `policy`."""
        if caller == ANONYMOUS:
            return False
        if caller == owner and policy[action] != "Admins":
            return True   # before the admin lookup: the owner's own change is the common case
        return self.admins.is_admin(caller)

    def check_write(self, caller: str, type_name: str, policy: dict, action: str, owner: str) -> None:
        """`action` is "modify" or "delete"."""
        self.require_signed_in(caller)
        if self.may_write(caller, policy, action, owner):
            return
        if policy[action] == "Admins":
            raise forbidden("only admins " + action + " " + type_name)
        raise forbidden("only the owner or an admin may " + action + " this " + type_name)
