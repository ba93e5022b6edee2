"""The current caller identity (a module variable: canisters run one message at a time, no threads)."""

from .db_constants import SYSTEM_CALLER

_current_caller = SYSTEM_CALLER


def get_caller_id() -> str:
    """The caller that engine operations are attributed to ("system" unless set)."""
    return _current_caller


def set_caller_id(caller_id: str) -> None:
    """Attribute the following engine operations to `caller_id` (a principal's text, a user name)."""
    global _current_caller
    # (`__class__` first: a builtin isinstance call costs ~9,000 instructions on Kybra's RustPython)
    if caller_id.__class__ is not str and not isinstance(caller_id, str) or not caller_id:
        raise ValueError("caller id must be a non-empty string")
    _current_caller = caller_id


def swap_caller(caller_id: str) -> str:
    """`set_caller_id(caller_id)` (the same check), returning the caller it replaces: one call where
    `get_caller_id` and `set_caller_id` take two (a call costs ~10,000 instructions on Kybra's RustPython)."""
    global _current_caller
    if caller_id.__class__ is not str and not isinstance(caller_id, str) or not caller_id:
        raise ValueError("caller id must be a non-empty string")
    previous = _current_caller
    _current_caller = caller_id
    return previous


class CallerScope:
    """Context manager that sets the caller for a block and restores the previous one afterwards."""

    def __init__(self, caller_id: str):
        self.caller_id = caller_id
        self.previous = None

    def __enter__(self) -> "CallerScope":
        self.previous = get_caller_id()
        set_caller_id(self.caller_id)
        return self

    def __exit__(self, *exc) -> bool:
        set_caller_id(self.previous)
        return False
