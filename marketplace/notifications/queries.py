"""The borrower's SMS choices, as saved and as the settings page shows them."""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.i18n import _
from marketplace.notifications.preferences import CATEGORY_RULES, SmsCategory
from marketplace.notifications.tables import SmsPreference


@dataclass(frozen=True)
class SmsSetting:
    category: SmsCategory
    label: str
    description: str
    switchable: bool
    enabled: bool


async def saved_choices(user_id: int) -> dict[str, bool]:
    row = (
        await SmsPreference.select(SmsPreference.choices)
        .where(SmsPreference.user_id == user_id)
        .output(load_json=True)
        .first()
    )
    return dict(row["choices"]) if row else {}


async def sms_settings(user_id: int) -> list[SmsSetting]:
    choices = await saved_choices(user_id)
    return [
        SmsSetting(
            category,
            _(rule.label),
            _(rule.description),
            rule.switchable,
            True if not rule.switchable else bool(choices.get(category.value, rule.default)),
        )
        for category, rule in CATEGORY_RULES.items()
    ]
