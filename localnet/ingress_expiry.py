"""The ingress-expiry window: a request is accepted only while `now <= ingress_expiry <= now + 5 min`."""

from __future__ import annotations

from localnet.http_error import HttpError

MAX_INGRESS_TTL_NS = 5 * 60 * 1_000_000_000
PERMITTED_DRIFT_NS = 60 * 1_000_000_000


def check_expiry(ingress_expiry: int, now_ns: int) -> None:
    """Raise HttpError(400) with the replica's "Invalid request expiry:" text when outside the window."""
    latest = now_ns + MAX_INGRESS_TTL_NS + PERMITTED_DRIFT_NS
    if now_ns <= ingress_expiry <= latest:
        return
    raise HttpError(
        400,
        "Invalid request expiry: Specified ingress_expiry not within expected range: "
        f"Minimum allowed expiry: {now_ns}, Maximum allowed expiry: {latest}, "
        f"Provided expiry: {ingress_expiry}, Local replica time: {now_ns}",
    )
