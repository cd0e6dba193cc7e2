"""Account deletion (PIPL art. 47): request, cooling period, cancel, the cron job that
anonymises the borrower, and the refusal while a loan is outstanding."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketplace.accounts.tables import BorrowerProfile, User
from marketplace.audit.tables import AuditEntry
from marketplace.erasure.services import process_due_deletions
from marketplace.erasure.tables import DeletionRequest
from marketplace.loancalc import today_shanghai
from marketplace.loans.services import report_disbursement
from marketplace.loans.tables import Loan
from marketplace.parameters.tables import SystemParameter
from tests.factories import PASSWORD, application_in
from tests.fixtures import login, soup


async def _request(client) -> object:
    return await client.submit("/me/delete", {"confirm": "1"})


async def test_deletion_page_states_what_is_deleted_and_kept(client, world):
    await login(client, "/login", world.borrower_mobile)
    page = await client.get("/me/delete")
    assert page.status_code == 200
    assert "会删除的信息" in page.text and "依法保留的信息" in page.text
    unconfirmed = await client.submit("/me/delete", {})
    assert unconfirmed.status_code == 400 and "请确认" in unconfirmed.text
    assert await DeletionRequest.count() == 0


async def test_request_cool_off_cancel_and_request_again(client, world):
    await SystemParameter.insert(SystemParameter(key="account_deletion_cooling_days", value="10"))
    await login(client, "/login", world.borrower_mobile)
    assert (await _request(client)).status_code == 303
    request = await DeletionRequest.objects().first()
    assert request.status == "pending"
    assert timedelta(days=9, hours=23) < request.due_at - request.requested_at <= timedelta(days=10)
    page = await client.get("/me/delete")
    assert "注销申请处理中" in page.text
    assert (await _request(client)).status_code == 409, "one open request at a time"

    # Not due yet: the job leaves it alone.
    assert await process_due_deletions() == 0
    assert (await client.get("/me")).status_code == 200

    assert (await client.submit("/me/delete/cancel")).status_code == 303
    assert (await DeletionRequest.objects().first()).status == "cancelled"
    again = await client.submit("/me/delete/cancel")
    assert again.status_code == 409 and "没有进行中的注销申请" in again.text
    actions = [e.action for e in await AuditEntry.objects().order_by(AuditEntry.id)]
    assert "account.deletion_requested" in actions and "account.deletion_cancelled" in actions


async def test_parallel_requests_open_one(client, world):
    await login(client, "/login", world.borrower_mobile)
    token = await client.csrf_token()
    responses = await asyncio.gather(
        *(client.post("/me/delete", data={"_csrf_token": token, "confirm": "1"}) for _ in range(5))
    )
    assert sorted(r.status_code for r in responses) == [303, 409, 409, 409, 409]
    assert await DeletionRequest.count() == 1


async def test_due_request_anonymises_the_borrower_and_keeps_loans(client, world):
    application_id = await application_in(world, "accepted", "12000", 12)
    loan_id = await report_disbursement(
        world.staff, application_id, today_shanghai(), Decimal("12000"), "6222 0210 0112 3456 789"
    )
    await login(client, "/login", world.borrower_mobile)
    refused = await _request(client)
    assert refused.status_code == 409 and "未结清的借款" in refused.text
    assert await DeletionRequest.count() == 0

    await Loan.update({Loan.status: "settled"}).where(Loan.id == loan_id)
    assert (await _request(client)).status_code == 303
    await DeletionRequest.update(
        {DeletionRequest.due_at: datetime.now(UTC) - timedelta(minutes=1)}
    ).where(DeletionRequest.status == "pending")
    assert await process_due_deletions() == 1
    assert await process_due_deletions() == 0, "idempotent"

    user = await User.objects().where(User.id == world.borrower.user_id).first()
    assert user.status == "deleted" and user.mobile_encrypted is None and user.mobile_masked == ""
    assert user.display_name == "已注销用户"
    assert not await BorrowerProfile.exists().where(BorrowerProfile.user == user.id)
    assert await Loan.exists().where(Loan.id == loan_id), "loans are kept"
    assert (await client.get("/me")).status_code != 200, "signed out"
    failed = await client.submit("/login", {"login": world.borrower_mobile, "password": PASSWORD})
    assert failed.status_code == 400
    entry = await AuditEntry.objects().where(AuditEntry.action == "account.deleted").first()
    assert entry.actor_kind == "system" and entry.object_id == str(user.id)


async def test_a_loan_taken_during_the_cooling_period_holds_the_deletion(client, world):
    await login(client, "/login", world.borrower_mobile)
    assert (await _request(client)).status_code == 303
    application_id = await application_in(world, "accepted", "12000", 12)
    await report_disbursement(
        world.staff, application_id, today_shanghai(), Decimal("12000"), "6222 0210 0112 3456 789"
    )
    await DeletionRequest.update(
        {DeletionRequest.due_at: datetime.now(UTC) - timedelta(minutes=1)}
    ).where(DeletionRequest.status == "pending")
    assert await process_due_deletions() == 0
    user = await User.objects().where(User.id == world.borrower.user_id).first()
    assert user.status == "active"
    assert soup(await client.get("/me/delete")).select_one("main")
