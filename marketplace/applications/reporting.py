"""The coarse facts an application keeps in clear for the reports (issue 13): the channel
it arrived through and the borrower's monthly income band at submission. Bands, not the
income: the reports group by them without decrypting anything, and a band says far less
about a person than the amount (still disclosed in marketplace/legal/inventory.py)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from marketplace.i18n import N_


class Channel(StrEnum):
    """How the application reached the platform. Every application is sent from the
    portal's forms today (single product or several at once); what differs is the device:
    a phone's browser (H5, often inside WeChat) or a computer's."""

    WEB = "web"
    H5 = "h5"


CHANNEL_LABELS: dict[str, str] = {Channel.WEB: N_("电脑网页"), Channel.H5: N_("手机 H5")}
# Substrings of a User-Agent that mean a phone or tablet browser (incl. in-app browsers).
_MOBILE_MARKERS = ("mobile", "android", "iphone", "ipad", "harmonyos", "micromessenger")


def channel_of(user_agent: str | None) -> Channel:
    """The channel of a portal request, from its User-Agent (absent or odd: the web)."""
    agent = (user_agent or "")[:500].lower()
    return Channel.H5 if any(marker in agent for marker in _MOBILE_MARKERS) else Channel.WEB


# Monthly income in yuan: (code, lowest amount in the band), ascending.
INCOME_BANDS: tuple[tuple[str, Decimal], ...] = (
    ("lt_5k", Decimal(0)),
    ("5k_10k", Decimal(5000)),
    ("10k_20k", Decimal(10000)),
    ("20k_plus", Decimal(20000)),
)
UNKNOWN_INCOME = "unknown"


def income_band(monthly_income: Decimal | None) -> str:
    if monthly_income is None or not monthly_income.is_finite() or monthly_income < 0:
        return UNKNOWN_INCOME
    code = INCOME_BANDS[0][0]
    for band, lowest in INCOME_BANDS:
        if monthly_income >= lowest:
            code = band
    return code
