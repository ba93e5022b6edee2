"""The small sample `store` canister the agent tests run against, and helpers to call it."""

from __future__ import annotations

from pathlib import Path

from ic.candid import Types, decode, encode

STORE = Path(__file__).resolve().parents[1] / "localnet" / "sample" / "store" / "main.py"
NO_ARGS = encode([])


def text_args(*values: str) -> bytes:
    return encode([{"type": Types.Text, "value": v} for v in values])


def history(agent, canister) -> int:
    """How many `put`s the store has run (its history length)."""
    return decode(agent.query(canister, "history_len", NO_ARGS))[0]["value"]
