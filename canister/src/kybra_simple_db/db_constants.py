"""Constants shared by the engine's modules and its users (hook actions, delete policies)."""

ACTION_CREATE = "create"
ACTION_MODIFY = "modify"
ACTION_DELETE = "delete"

SET_NULL = "set_null"
CASCADE = "cascade"
RESTRICT = "restrict"
DELETE_POLICIES = (SET_NULL, CASCADE, RESTRICT)

SYSTEM_CALLER = "system"
