"""The demo shows the borrower's security pages with something in every state (issue #10):
consents standing, withdrawn and owed, withdrawn and confirmed, and overdue for operators;
notices read and unread; a finished data export; SMS choices made; devices signed in; and
a second borrower inside the cooling period of an account deletion."""

from __future__ import annotations

from datetime import UTC, datetime

from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.consents.tables import Consent, ConsentWithdrawal, DataExport
from marketplace.demo.account_security import LEAVING_MOBILE, seed_account_security
from marketplace.demo.seed import seed_demo
from marketplace.erasure.tables import DeletionRequest
from marketplace.inbox.tables import InboxItem
from marketplace.notifications.tables import SmsPreference
from server.demo_devices import DEVICES, seed_demo_devices
from server.sessions import user_sessions
from tests.fixtures import login, soup

DEMO_BORROWER = "13800138000"
PASSWORD = "Demo12345"  # noqa: S105 - the demo accounts' password


async def _user_id(mobile: str) -> int:
    row = await User.select(User.id).where(User.login_key == mobile_login_key(mobile)).first()
    assert row is not None
    return int(row["id"])


async def test_the_demo_borrower_has_every_consent_state(client):
    assert await seed_demo()
    assert not await seed_account_security(), "runs once"
    borrower = await _user_id(DEMO_BORROWER)
    now = datetime.now(UTC)
    consents = await Consent.select().where(Consent.borrower == borrower)
    assert any(c["withdrawn_at"] is None for c in consents)
    withdrawals = await ConsentWithdrawal.select().where(ConsentWithdrawal.borrower == borrower)
    owed = [w for w in withdrawals if w["confirmed_at"] is None and w["delete_by"] > now]
    overdue = [w for w in withdrawals if w["confirmed_at"] is None and w["delete_by"] < now]
    confirmed = [w for w in withdrawals if w["confirmed_at"] is not None]
    assert len(owed) == len(overdue) == len(confirmed) == 1
    assert confirmed[0]["withdrawn_at"] < confirmed[0]["confirmed_at"] < confirmed[0]["delete_by"]
    assert confirmed[0]["confirmed_by"] is not None

    await login(client, "/login", DEMO_BORROWER, PASSWORD)
    ledger = soup(await client.get("/me/consents"))
    text = ledger.text
    assert "有效" in text and "机构须在" in text and "确认删除您的信息" in text
    assert ledger.select_one("#data-export form[action$='/link']") is not None


async def test_the_demo_has_notices_an_export_sms_choices_and_a_leaving_borrower():
    assert await seed_demo()
    borrower = await _user_id(DEMO_BORROWER)
    notices = await InboxItem.select(InboxItem.read_at).where(InboxItem.recipient == borrower)
    assert any(n["read_at"] for n in notices) and any(not n["read_at"] for n in notices)
    exports = await DataExport.select(DataExport.status).where(DataExport.borrower == borrower)
    assert [e["status"] for e in exports] == ["ready"]
    choices = (
        await SmsPreference.select(SmsPreference.choices)
        .where(SmsPreference.user_id == borrower)
        .output(load_json=True)
        .first()
    )
    assert choices is not None
    assert choices["choices"]["decisions"] and not choices["choices"]["progress"]
    assert not choices["choices"]["marketing"]

    leaving = await _user_id(LEAVING_MOBILE)
    request = await DeletionRequest.select().where(DeletionRequest.user == leaving).first()
    assert request is not None and request["status"] == "pending"
    assert request["requested_at"] < datetime.now(UTC) < request["due_at"]


async def test_the_demo_borrower_is_signed_in_on_other_devices(client):
    assert await seed_demo()
    borrower = await _user_id(DEMO_BORROWER)
    assert await seed_demo_devices() == len(DEVICES)
    assert await seed_demo_devices() == 0, "not while devices are signed in"
    devices = await user_sessions(borrower, None)
    assert {d.device for d in devices} == {"iPhone · 微信", "Android · Chrome", "Windows · Edge"}
    assert all("*" in d.ip_masked for d in devices)

    await login(client, "/login", DEMO_BORROWER, PASSWORD)
    page = soup(await client.get("/me/security"))
    assert "iPhone · 微信" in page.text
    response = await client.submit("/me/security/sessions/end-others")
    assert response.status_code == 303
    assert len(await user_sessions(borrower, None)) == 1
