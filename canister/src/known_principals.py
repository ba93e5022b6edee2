"""Principals parsed once and printed for free: Kybra passes every principal through its text.

On the IC, Kybra's Rust glue makes each Principal it hands to Python (`ic.caller()`, arguments) with
kybra's `Principal.from_str(text)` (base32 and a checksum in Python, about 1.4M instructions) and turns
each Principal the canister returns into Candid by calling its `to_str()` (about 0.6M). `install` makes
`Principal.from_str` a memo of the texts already checked, whose Principals answer `to_str()` from the
text they were parsed from; the canister builds the Principals of its replies the same way.
"""

from kybra import Principal

MEMO_SIZE = 1024  # distinct principal texts kept (the memo starts over when full)

# kybra's own parser (the checksum and the canonical form are checked once per text); found on an earlier
# from_text when this module is imported again in the same process (tests, benchmarks), so memos never chain
_parse = getattr(Principal.from_str, "kybra_parse", Principal.from_str)
_memo = {}


class TextPrincipal(Principal):
    """A Principal that keeps the text it was parsed from."""

    # (what Principal's property gives, as a plain attribute: Kybra's glue reads it for each principal of a
    # reply, and a property costs a Python frame)
    isPrincipal = True

    def __init__(self, text: str, raw: bytes):
        super().__init__(bytes=raw)
        self._text = text
        # `to_str()` gives the text: the text's own `__str__` (a builtin, which returns the text itself),
        # where a Python method costs a frame (Kybra calls it for each principal of every reply)
        self.to_str = text.__str__


def from_text(text: str) -> Principal:
    """`Principal.from_str(text)`, parsed once per distinct text (the same errors for a bad text)."""
    found = _memo.get(text)
    if found is None:
        found = TextPrincipal(text, _parse(text).bytes)
        if len(_memo) >= MEMO_SIZE:
            _memo.clear()
        _memo[text] = found
    return found


def install() -> None:
    """Route kybra's `Principal.from_str` (which Kybra's glue calls for every incoming principal) here."""
    from_text.kybra_parse = _parse
    Principal.from_str = staticmethod(from_text)
