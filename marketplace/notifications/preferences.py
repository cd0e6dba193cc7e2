"""Which kinds of borrower notice also come by SMS. Every notice is always shown in-site;
the SMS of a switchable kind follows the borrower's choice (its default until they choose),
while security codes and notices the law requires are always sent."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from marketplace.i18n import N_


class SmsCategory(StrEnum):
    SECURITY = "security"
    LEGAL = "legal"
    DECISIONS = "decisions"
    PROGRESS = "progress"
    REMINDERS = "reminders"
    MARKETING = "marketing"


@dataclass(frozen=True)
class CategoryRule:
    label: str  # N_() marked
    description: str  # N_() marked
    switchable: bool
    default: bool


CATEGORY_RULES: dict[SmsCategory, CategoryRule] = {
    SmsCategory.SECURITY: CategoryRule(
        N_("账户安全"),
        N_("验证码，以及密码、登录手机号被修改的提醒。为保护您的账户，始终发送。"),
        switchable=False,
        default=True,
    ),
    SmsCategory.LEGAL: CategoryRule(
        N_("依法必须告知的通知"),
        N_("以您名义放款、借款逾期及其后果的通知。依法必须告知，始终发送。"),
        switchable=False,
        default=True,
    ),
    SmsCategory.DECISIONS: CategoryRule(
        N_("审批结果"),
        N_("机构批复或拒绝您的申请。"),
        switchable=True,
        default=True,
    ),
    SmsCategory.PROGRESS: CategoryRule(
        N_("补充材料、机构消息与投诉进展"),
        N_("机构请您补充材料、在申请中给您发来新消息，或您的投诉、反馈有了新进展。"),
        switchable=True,
        default=True,
    ),
    SmsCategory.REMINDERS: CategoryRule(
        N_("还款提醒"),
        N_("还款日前的提醒。"),
        switchable=True,
        default=True,
    ),
    SmsCategory.MARKETING: CategoryRule(
        N_("营销活动"),
        N_("平台活动和产品推荐。默认不发送。"),
        switchable=True,
        default=False,
    ),
}

# The kind of every notice sent with an SMS, by the kind its sender records.
KIND_CATEGORIES: dict[str, SmsCategory] = {
    "account.password_changed": SmsCategory.SECURITY,
    "account.password_reset": SmsCategory.SECURITY,
    "loan.disbursed": SmsCategory.LEGAL,
    "loan.overdue": SmsCategory.LEGAL,
    "offer_made": SmsCategory.DECISIONS,
    "application.rejected": SmsCategory.DECISIONS,
    "documents": SmsCategory.PROGRESS,
    "message.new": SmsCategory.PROGRESS,
    "complaint.update": SmsCategory.PROGRESS,
    "loan.reminder": SmsCategory.REMINDERS,
}
MARKETING_PREFIX = "marketing."

SWITCHABLE: tuple[SmsCategory, ...] = tuple(c for c, r in CATEGORY_RULES.items() if r.switchable)


def category_of(kind: str) -> SmsCategory:
    """A kind nobody has classified is sent like a security notice: a new notice is never
    silently dropped; tests/unit/test_sms_preferences.py keeps the table complete."""
    if kind.startswith(MARKETING_PREFIX):
        return SmsCategory.MARKETING
    return KIND_CATEGORIES.get(kind, SmsCategory.SECURITY)


def wants_sms(kind: str, choices: dict[str, bool]) -> bool:
    """`choices`: the borrower's saved choice per category (missing: the default)."""
    category = category_of(kind)
    rule = CATEGORY_RULES[category]
    if not rule.switchable:
        return True
    return bool(choices.get(category.value, rule.default))
