"""Signatures on webhook requests, and the reference check a receiver runs.

`X-LoanMart-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]` where each v1 is
HMAC-SHA256(secret, "<t>.<raw body>"): one per valid secret (two during a rotation's
overlap). A receiver accepts when any v1 matches one of its secrets and `t` is within
five minutes of its clock, which makes a captured request useless later."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "X-LoanMart-Signature"
EVENT_HEADER = "X-LoanMart-Event"
DELIVERY_HEADER = "X-LoanMart-Delivery"
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 - a public prefix that makes secrets recognisable


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets_in_use: list[str], timestamp: int, body: bytes) -> str:
    return ",".join(
        [f"t={timestamp}", *(f"v1={sign(secret, timestamp, body)}" for secret in secrets_in_use)]
    )


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """The reference verifier (also in the developer docs): True when `header` carries a
    fresh timestamp and a v1 signature of `body` made with `secret`."""
    timestamp = None
    signatures = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
