"""Fixtures of the canister tests (defined in canister_fixtures.py)."""

from canister_fixtures import db, shared_replica  # noqa: F401
