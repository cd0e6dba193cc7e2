"""TOTP (RFC 6238) second factor for operators: 6 digits, 30-second steps, SHA-1.

Those are the parameters every authenticator app (Google Authenticator, 腾讯身份验证器,
Microsoft Authenticator …) supports. RFC 6238 §5.2 forbids accepting one code twice: the
caller stores the step returned by :func:`matched_totp_step` and rejects steps not after it.
"""

from __future__ import annotations

import binascii
import hmac
import re
from datetime import datetime

import pyotp

__all__ = [
    "TOTP_ISSUER",
    "current_totp_code",
    "matched_totp_step",
    "new_totp_secret",
    "totp_uri",
    "verify_totp",
]

TOTP_ISSUER = "LoanMart"
_CODE = re.compile(r"[0-9]{6}")


def new_totp_secret() -> str:
    """A random base32 secret of 160 bits, as RFC 4226 recommends."""
    return pyotp.random_base32()


def current_totp_code(secret: str) -> str:
    """The code an authenticator app shows now (demo console and tests only)."""
    return pyotp.TOTP(secret).now()


def totp_uri(secret: str, account: str, *, issuer: str = TOTP_ISSUER) -> str:
    """``otpauth://`` URI to show as a QR code when enrolling."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def matched_totp_step(
    secret: str, code: str, *, valid_window: int = 1, now: datetime | None = None
) -> int | None:
    """The time step ``code`` is valid for, within ``valid_window`` steps of now, or None."""
    code = "".join(code.split())
    if not _CODE.fullmatch(code):
        return None
    for_time = now or datetime.now()
    try:
        totp = pyotp.TOTP(secret)
        current = totp.timecode(for_time)
        for offset in range(-valid_window, valid_window + 1):
            if hmac.compare_digest(totp.at(for_time, counter_offset=offset), code):
                return current + offset
    except (binascii.Error, ValueError):
        return None
    return None


def verify_totp(
    secret: str, code: str, *, valid_window: int = 1, now: datetime | None = None
) -> bool:
    """True if ``code`` is valid now, allowing ``valid_window`` steps of clock drift."""
    return matched_totp_step(secret, code, valid_window=valid_window, now=now) is not None
