"""The result of executing one message: a reply or a reject, as the IC's HTTP interface reports them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    """The canister replied; `arg` is the Candid-encoded reply."""

    arg: bytes


@dataclass(frozen=True)
class Reject:
    """The message was rejected: `code` is an IC reject code (1 to 5), `error_code` e.g. "IC0503"."""

    code: int
    message: str
    error_code: str


Outcome = Reply | Reject
