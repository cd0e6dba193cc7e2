"""Every kind of notice sent with an SMS is classified (so the borrower's SMS settings
apply to it), and the rules: switchable kinds follow the saved choice or their default,
security and legally required kinds are always sent."""

from __future__ import annotations

import ast
from pathlib import Path

from marketplace.collections.jobs import SMS_TEMPLATE as LOAN_NOTICE_KINDS
from marketplace.documents.services import NOTICE_KIND as DOCUMENTS_KIND
from marketplace.messages.services import SMS_TEMPLATE as MESSAGE_KIND
from marketplace.notifications.preferences import (
    CATEGORY_RULES,
    KIND_CATEGORIES,
    SWITCHABLE,
    SmsCategory,
    category_of,
    wants_sms,
)

ROOT = Path(__file__).resolve().parents[2]
CONSTANT_KINDS = {MESSAGE_KIND, DOCUMENTS_KIND, *LOAN_NOTICE_KINDS.values()}


def _literal_sms_kinds() -> set[str]:
    """The kind literal of every notify_borrower(..., sms=...) call in the code."""
    kinds: set[str] = set()
    for package in ("marketplace", "portal", "server", "admin", "institution_console"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (
                    isinstance(node, ast.Call) and getattr(node.func, "id", "") == "notify_borrower"
                ):
                    continue
                if not any(k.arg == "sms" for k in node.keywords) or len(node.args) < 2:
                    continue
                kind = node.args[1]
                if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                    kinds.add(kind.value)
    return kinds


def test_every_kind_sent_by_sms_is_classified():
    kinds = _literal_sms_kinds() | CONSTANT_KINDS
    assert len(kinds) >= 8, "the scan found the senders"
    assert kinds - set(KIND_CATEGORIES) == set()


def test_always_sent_kinds_ignore_any_choice():
    everything_off = {c.value: False for c in SmsCategory}
    for kind, category in KIND_CATEGORIES.items():
        expected = not CATEGORY_RULES[category].switchable
        assert wants_sms(kind, everything_off) is expected, kind
    assert wants_sms("account.password_reset", everything_off)
    assert wants_sms("loan.overdue", everything_off)


def test_defaults_apply_until_chosen_and_marketing_is_off():
    assert wants_sms("offer_made", {}) and wants_sms("loan.reminder", {})
    assert not wants_sms("marketing.spring", {})
    assert wants_sms("marketing.spring", {"marketing": True})
    assert not wants_sms("loan.reminder", {"reminders": False})
    assert {c.value for c in SWITCHABLE} == {"decisions", "progress", "reminders", "marketing"}


def test_an_unclassified_kind_is_never_silently_dropped():
    assert category_of("something.new") is SmsCategory.SECURITY
    assert wants_sms("something.new", {c.value: False for c in SmsCategory})
