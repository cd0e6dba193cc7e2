"""Demo accounts for user management (A1): a borrower frozen by customer service and a
staff member their institution's admin invited and then disabled — both through the
management verbs, so the reasons, history and audit rows are real."""

from __future__ import annotations

from marketplace.accounts.management import FROZEN, change_status, invite_staff
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.demo.catalogue import DEMO_PASSWORD
from marketplace.demo.decisions import _actor
from marketplace.security import encrypt_field, hash_password, mask_mobile

FROZEN_BORROWER_MOBILE = "13600009999"
FROZEN_BORROWER_REASON = "本人来电称手机丢失，申请临时冻结账号，核实身份后解冻"
DISABLED_STAFF_EMAIL = "intern@huaxin-bank.example"
DISABLED_STAFF_REASON = "实习期结束，停用账号"


async def _no_sessions(user_id: int) -> int:
    """A freshly seeded account has signed in nowhere."""
    return 0


async def seed_users() -> None:
    operator = await _actor("super@loanmart.example")
    admin = await _actor("admin@huaxin-bank.example")
    if operator is None or admin is None:
        return
    rows = await User.insert(
        User(
            kind="borrower",
            login_key=mobile_login_key(FROZEN_BORROWER_MOBILE),
            display_name="刘洋",
            mobile_encrypted=encrypt_field(FROZEN_BORROWER_MOBILE, context="user.mobile"),
            mobile_masked=mask_mobile(FROZEN_BORROWER_MOBILE),
            password_hash=hash_password(DEMO_PASSWORD),
            role="borrower",
        )
    ).returning(User.id)
    await change_status(operator, rows[0]["id"], FROZEN, FROZEN_BORROWER_REASON, _no_sessions)
    intern = await invite_staff(
        admin, {"email": DISABLED_STAFF_EMAIL, "name": "赵实习", "role": "loan_officer"}
    )
    await change_status(admin, intern, FROZEN, DISABLED_STAFF_REASON, _no_sessions)
