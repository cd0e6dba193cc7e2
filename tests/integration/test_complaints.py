"""Complaints (issue #12, P11 + A10): every transition and who may take it, tenancy 404s,
hostile input, the parallel double-assign, the SLA run (one reminder per stage, overdue
marks, automatic close) with moved time, attachments checked by their bytes, and the
pages of the three audiences."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, time, timedelta

import pytest

from marketplace.audit.tables import AuditEntry
from marketplace.complaints import services
from marketplace.complaints.queries import (
    DeskFilters,
    attachment,
    complaint_for_institution,
    complaint_for_operator,
    desk,
    export_desk,
    institution_complaints,
    own_complaint,
    own_complaints,
)
from marketplace.complaints.services import ComplaintInput, FeedbackInput
from marketplace.complaints.statuses import ComplaintStatus
from marketplace.complaints.tables import Complaint, ComplaintAttachment, ComplaintMessage
from marketplace.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from marketplace.files import UploadedFile
from marketplace.inbox.tables import InboxItem
from marketplace.security import decrypt_field
from tests import factories
from tests.fixtures import login, soup

S = ComplaintStatus
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"x" * 64
CS = "cs@loanmart.example"


async def _cs(name: str = "客服小王", login_name: str = CS):
    return await factories.user("operator", login_name, "customer_service", None, name)


async def _application(world) -> str:
    from marketplace.applications.tables import Application

    application_id = await factories.application_in(world, status="reviewing")
    row = await Application.select(Application.reference).where(Application.id == application_id)
    return row[0]["reference"]


async def _filed(world, **kwargs) -> tuple[str, int]:
    reference = await _application(world)
    ref = await services.file_complaint(
        world.borrower,
        ComplaintInput(
            target=str(world.bank_id),
            category=kwargs.pop("category", "opaque_fees"),
            description=kwargs.pop("description", "放款时多扣了服务费，没有提前告知"),
            application=reference,
        ),
        kwargs.pop("files", ()),
    )
    row = await Complaint.select(Complaint.id).where(Complaint.reference == ref).first()
    return ref, row["id"]


async def _row(complaint_id: int) -> dict:
    return await Complaint.select().where(Complaint.id == complaint_id).first()


async def test_the_whole_path_from_filing_to_rating(world):
    cs = await _cs()
    ref, cid = await _filed(world, files=[UploadedFile("凭证.png", PNG)])
    row = await _row(cid)
    assert ref.startswith("TS") and len(ref) == len("TS20261201-000123")
    assert row["status"] == S.OPEN and row["institution"] == world.bank_id
    assert row["application"] is not None
    assert "多扣" not in row["description_encrypted"]  # encrypted at rest
    # The desk hears of it.
    assert await InboxItem.exists().where(
        (InboxItem.recipient == cs.user_id) & (InboxItem.kind == "complaint.desk")
    )
    await services.assign(cs, cid, version=row["version"])
    await services.forward(cs, cid, "请机构核实费用", version=(await _row(cid))["version"])
    assert (await _row(cid))["status"] == S.AWAITING_INSTITUTION
    staff_view = await complaint_for_institution(world.staff, cid)
    assert "answer" in staff_view.actions and "resolve" not in staff_view.actions
    await services.answer(world.staff, cid, "已退还多收的服务费", [UploadedFile("退款.pdf", PDF)])
    row = await _row(cid)
    assert row["status"] == S.RESOLVED and row["resolved_within_sla"] is True
    mine = await own_complaint(world.borrower, ref)
    assert [a.name for a in mine.actions] == ["rate", "reopen"]
    assert [s.event for s in mine.steps] == ["filed", "assign", "forward", "answer"]
    await services.rate(world.borrower, ref, "5", "处理很快")
    row = await _row(cid)
    assert row["status"] == S.CLOSED and row["rating"] == 5
    assert {r["action"] for r in await AuditEntry.select(AuditEntry.action)} >= {
        "complaint.file",
        "complaint.assign",
        "complaint.forward",
        "complaint.answer",
        "complaint.rate",
    }
    # Every step told the borrower (inbox) — and by SMS with the reference only.
    titles = await InboxItem.select(InboxItem.title).where(
        InboxItem.recipient == world.borrower.user_id
    )
    assert len(titles) >= 3 and all("费" not in t["title"] for t in titles)


async def test_who_may_take_each_step(world):
    cs = await _cs()
    _ref, cid = await _filed(world)
    # Borrowers, institution staff and read-only operators cannot assign.
    for actor in (world.borrower, world.staff, world.auditor):
        with pytest.raises((PermissionDenied, NotFound)):
            await services.assign(actor, cid)
    # Staff cannot see it before it is forwarded to them.
    with pytest.raises(NotFound):
        await complaint_for_institution(world.staff, cid)
    await services.assign(cs, cid)
    # Staff cannot answer what is not awaiting them; operators cannot "answer".
    with pytest.raises(NotFound):
        await services.answer(world.staff, cid, "答复")
    await services.forward(cs, cid, "请处理")
    with pytest.raises(PermissionDenied):
        await services.answer(cs, cid, "客服冒充机构")
    # Another institution's staff: 404, never 403.
    with pytest.raises(NotFound):
        await services.answer(world.other_staff, cid, "不是我们的")
    with pytest.raises(NotFound):
        await complaint_for_institution(world.other_staff, cid)
    # The borrower cannot rate before it is resolved.
    with pytest.raises(InvalidTransition):
        await services.rate(world.borrower, (await _row(cid))["reference"], "4", "")
    await services.escalate(cs, cid, "机构超时未答复")
    await services.resolve(cs, cid, "平台协调退费")
    await services.close(cs, cid)
    assert (await _row(cid))["status"] == S.CLOSED
    with pytest.raises(InvalidTransition):
        await services.resolve(cs, cid, "再办结一次")


async def test_platform_complaints_and_feedback_are_resolved_by_the_operator(world):
    cs = await _cs()
    ref = await services.file_complaint(
        world.borrower, ComplaintInput("platform", "platform", "页面打不开")
    )
    cid = (await Complaint.select(Complaint.id).where(Complaint.reference == ref).first())["id"]
    await services.assign(cs, cid)
    assert "forward" not in (await complaint_for_operator(cs, cid)).actions
    with pytest.raises(DomainError):
        await services.forward(cs, cid, "转给谁？")
    await services.resolve(cs, cid, "已修复")
    # Not satisfied: reopened → escalated, back to the desk.
    await services.reopen(world.borrower, ref, "还是打不开")
    assert (await _row(cid))["status"] == S.ESCALATED
    await services.resolve(cs, cid, "换了服务器")
    # resolved_within_sla is set once, at the first resolution.
    assert (await _row(cid))["resolved_within_sla"] is True


async def test_a_borrower_cannot_use_someone_elses_application_or_complaint(world):
    stranger = await factories.user("borrower", "13500001001", "borrower", None, "路人")
    reference = await _application(world)
    with pytest.raises(NotFound):
        await services.file_complaint(
            stranger, ComplaintInput("platform", "other", "借用别人的申请", reference)
        )
    ref, _cid = await _filed(world)
    with pytest.raises(NotFound):
        await own_complaint(stranger, ref)
    with pytest.raises(NotFound):
        await services.reply(stranger, ref, "我来插一句")
    with pytest.raises(NotFound):
        await services.rate(stranger, ref, "1", "")
    # An institution the borrower never applied to is no target.
    with pytest.raises(DomainError) as refused:
        await services.file_complaint(
            world.borrower, ComplaintInput(str(world.other_bank_id), "other", "随便投诉")
        )
    assert "target" in refused.value.errors  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("target", "category", "description", "field"),
    [
        ("platform", "other", "", "description"),
        ("platform", "other", "长" * 2001, "description"),
        ("platform", "suggestion", "反馈类别不能用于投诉", "category"),
        ("platform", "<script>", "类别是脚本", "category"),
        ("１", "other", "全角数字的机构", "target"),
        ("-1", "other", "负数机构", "target"),
        ("99999999999999999999", "other", "巨大的机构编号", "target"),
        ("platform", "other", "控制字符\x00", "description"),
    ],
)
async def test_hostile_complaint_input_is_refused_with_a_field_error(
    world, target, category, description, field
):
    with pytest.raises(DomainError) as refused:
        await services.file_complaint(world.borrower, ComplaintInput(target, category, description))
    assert field in refused.value.errors  # type: ignore[attr-defined]
    assert await Complaint.count() == 0


async def test_script_in_a_description_is_kept_as_text_and_shown_escaped(world, client):
    ref = await services.file_complaint(
        world.borrower, ComplaintInput("platform", "other", "<script>alert(1)</script>")
    )
    assert (await own_complaint(world.borrower, ref)).description == "<script>alert(1)</script>"
    await login(client, "/login", world.borrower_mobile)
    page = await client.get(f"/me/complaints/{ref}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


async def test_attachments_are_checked_by_their_bytes_and_limited(world):
    with pytest.raises(DomainError) as refused:
        await _filed(world, files=[UploadedFile("伪装.png", b"MZ\x90\x00not an image")])
    assert "files" in refused.value.errors  # type: ignore[attr-defined]
    with pytest.raises(DomainError):
        await _filed(world, files=[UploadedFile("大.pdf", PDF + b"x" * (5 * 1024 * 1024))])
    with pytest.raises(DomainError):
        await _filed(world, files=[UploadedFile(f"{i}.png", PNG) for i in range(4)])
    with pytest.raises(DomainError):
        await _filed(world, files=[UploadedFile("名字是pdf.pdf", PNG)])
    assert await Complaint.count() == 0
    ref, cid = await _filed(world, files=[UploadedFile("a.png", PNG), UploadedFile("b.pdf", PDF)])
    stored = await ComplaintAttachment.select().where(ComplaintAttachment.complaint == cid)
    assert sorted(r["content_type"] for r in stored) == ["application/pdf", "image/png"]
    assert all("a.png" not in r["storage_key"] for r in stored)


async def test_staff_and_operator_downloads_of_attachments_are_audited(world):
    """A complaint's files are personal data: every staff or operator download is an audit
    row naming the complaint and the file (A13); another institution gets a 404 and leaves
    no row; the borrower reading their own file is not a reveal."""
    cs = await _cs()
    ref, cid = await _filed(world, files=[UploadedFile("凭证.png", PNG)])
    [stored] = await ComplaintAttachment.select(ComplaintAttachment.id).where(
        ComplaintAttachment.complaint == cid
    )
    file_id = stored["id"]
    assert (await attachment(world.borrower, ref, file_id)).content == PNG
    assert await AuditEntry.count().where(AuditEntry.action == "complaint.attachment_download") == 0
    await services.assign(cs, cid)
    await services.forward(cs, cid, "请机构核实")
    assert (await attachment(cs, cid, file_id)).content == PNG
    assert (await attachment(world.staff, cid, file_id)).content == PNG
    with pytest.raises(NotFound):
        await attachment(world.other_staff, cid, file_id)
    rows = await AuditEntry.select(
        AuditEntry.actor_id, AuditEntry.object_id, AuditEntry.detail
    ).where(AuditEntry.action == "complaint.attachment_download")
    assert sorted(r["actor_id"] for r in rows) == sorted([cs.user_id, world.staff.user_id])
    assert {r["object_id"] for r in rows} == {str(cid)}
    assert all(str(file_id) in str(r["detail"]) and "凭证" not in str(r["detail"]) for r in rows)


async def test_attachments_of_a_step_that_fails_are_deleted_again(world, monkeypatch):
    from marketplace import storage
    from marketplace.settings import settings

    def stored() -> list:
        return [p for p in (settings.files_dir / "complaints").rglob("*") if p.is_file()]

    ref, cid = await _filed(world, files=[UploadedFile("a.png", PNG)])
    [kept] = stored()
    [row] = await ComplaintAttachment.select().where(ComplaintAttachment.complaint == cid)

    async def failing(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(services, "audit", failing)
    with pytest.raises(RuntimeError):  # filing: the files are stored before the audit row
        await _filed(world, files=[UploadedFile("b.png", PNG), UploadedFile("c.pdf", PDF)])
    with pytest.raises(RuntimeError):  # a reply with a file, rolled back the same way
        await services.reply(world.borrower, ref, "补充凭证", [UploadedFile("d.pdf", PDF)])
    assert stored() == [kept] and await Complaint.count() == 1
    assert await storage.get(row["storage_key"]) == PNG


async def test_two_operators_assigning_at_once_exactly_one_wins(world):
    first = await _cs("客服甲", "cs1@loanmart.example")
    second = await _cs("客服乙", "cs2@loanmart.example")
    _ref, cid = await _filed(world)
    version = (await _row(cid))["version"]
    results = await asyncio.gather(
        services.assign(first, cid, version=version),
        services.assign(second, cid, version=version),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert sum(isinstance(r, DomainError) for r in results) == 1
    row = await _row(cid)
    assert row["status"] == S.ASSIGNED and row["version"] == version + 1
    assert await ComplaintMessage.count().where(ComplaintMessage.event == "assign") == 1


async def test_assigning_to_someone_who_may_not_handle_is_refused(world):
    cs = await _cs()
    _ref, cid = await _filed(world)
    with pytest.raises(DomainError):
        await services.assign(cs, cid, world.auditor.user_id)
    with pytest.raises(DomainError):
        await services.assign(cs, cid, world.staff.user_id)
    await services.assign(cs, cid)
    other = await _cs("客服乙", "cs2@loanmart.example")
    await services.assign(cs, cid, other.user_id)
    row = await _row(cid)
    assert row["assignee"] == other.user_id and row["status"] == S.ASSIGNED


async def test_sla_reminds_once_per_stage_then_marks_overdue_and_autocloses(world):
    cs = await _cs()
    _ref, cid = await _filed(world)
    filed = (await _row(cid))["created_at"]
    # Default: 4 hours to assign, reminded 4 hours before — i.e. at once.
    first = await services.run_sla(filed + timedelta(minutes=1))
    again = await services.run_sla(filed + timedelta(minutes=2))
    assert (first.reminded, again.reminded) == (1, 0)
    reminders = await InboxItem.count().where(
        (InboxItem.recipient == cs.user_id) & InboxItem.title.like("%即将到期%")
    )
    assert reminders == 1
    late = await services.run_sla(filed + timedelta(hours=5))
    assert late.overdue == 1 and (await services.run_sla(filed + timedelta(hours=6))).overdue == 0
    assert (await _row(cid))["overdue"] is True
    rows, _total = await desk(cs, DeskFilters(overdue=True))
    assert [r.id for r in rows] == [cid]
    # A new stage clears the mark and gets its own reminder.
    await services.assign(cs, cid)
    await services.forward(cs, cid, "请处理")
    row = await _row(cid)
    assert row["overdue"] is False and row["reminded_at"] is None
    due = row["due_at"]
    assert (await services.run_sla(due - timedelta(hours=5))).reminded == 0
    assert (await services.run_sla(due - timedelta(hours=3))).reminded == 1
    assert await InboxItem.exists().where(
        (InboxItem.recipient == world.staff.user_id) & InboxItem.title.like("%即将到期%")
    )
    await services.answer(world.staff, cid, "已处理")
    resolved = await _row(cid)
    # Unrated: closed automatically after complaint_autoclose_days.
    assert (await services.run_sla(resolved["due_at"] - timedelta(minutes=1))).closed == 0
    assert (await services.run_sla(resolved["due_at"] + timedelta(minutes=1))).closed == 1
    assert (await _row(cid))["status"] == S.CLOSED
    assert await AuditEntry.exists().where(AuditEntry.action == "complaint.autoclose")


async def test_parallel_sla_runs_send_one_reminder(world):
    await _cs()
    _ref, cid = await _filed(world)
    now = (await _row(cid))["created_at"] + timedelta(minutes=1)
    runs = await asyncio.gather(*(services.run_sla(now) for _ in range(4)))
    assert sum(r.reminded for r in runs) == 1


async def test_internal_notes_stay_with_operators(world):
    cs = await _cs()
    ref, cid = await _filed(world)
    await services.assign(cs, cid)
    await services.add_note(cs, cid, "疑似职业投诉人")
    await services.reply(cs, cid, "您好，我们正在核实")
    await services.forward(cs, cid, "请处理")
    mine = await own_complaint(world.borrower, ref)
    theirs = await complaint_for_institution(world.staff, cid)
    ours = await complaint_for_operator(cs, cid)
    for view in (mine, theirs):
        assert "疑似职业投诉人" not in [s.body for s in view.steps]
    assert "疑似职业投诉人" in [s.body for s in ours.steps]
    assert "您好，我们正在核实" in [s.body for s in mine.steps]


async def test_feedback_anonymous_and_signed_in(world):
    guest = services.SLA_ACTOR.__class__(
        user_id=None, kind="guest", label="guest", ip="203.0.113.9"
    )
    ref = await services.send_feedback(
        guest, FeedbackInput("suggestion", "希望增加夜间模式", "13500001002")
    )
    row = await Complaint.select().where(Complaint.reference == ref).first()
    assert row["borrower"] is None and row["kind"] == "feedback"
    assert decrypt_field(row["contact_encrypted"], context="complaint.contact") == "13500001002"
    with pytest.raises(DomainError):
        await services.send_feedback(guest, FeedbackInput("suggestion", "联系方式乱填", "abc"))
    await services.send_feedback(world.borrower, FeedbackInput("problem_report", "按钮没反应"))
    assert [r.kind for r in await own_complaints(world.borrower)] == ["feedback"]
    # The public form is limited per client address.
    for _ in range(services.FEEDBACK_PER_HOUR - 1):
        await services.send_feedback(guest, FeedbackInput("suggestion", "再提一条"))
    with pytest.raises(DomainError):
        await services.send_feedback(guest, FeedbackInput("suggestion", "太频繁"))


async def test_the_desk_filters_and_exports_without_personal_text(world):
    cs = await _cs()
    _ref, cid = await _filed(world)
    await services.file_complaint(
        world.borrower, ComplaintInput("platform", "platform", "平台卡顿")
    )
    rows, total = await desk(cs, DeskFilters(institution_id=world.bank_id))
    assert total == 1 and rows[0].id == cid
    rows, total = await desk(cs, DeskFilters(institution_id=0))
    assert total == 1 and rows[0].target == "平台"
    rows, total = await desk(cs, DeskFilters(status="assigned"))
    assert total == 0
    export = await export_desk(cs, DeskFilters(), "csv")
    text = export.content.decode("utf-8-sig")
    assert "平台卡顿" not in text and "多扣" not in text
    assert len(list(csv.reader(io.StringIO(text)))) == 3
    assert await AuditEntry.exists().where(AuditEntry.action == "complaint.export")
    with pytest.raises(PermissionDenied):
        await desk(world.staff, DeskFilters())


async def test_the_institution_list_is_its_own(world):
    cs = await _cs()
    _ref, cid = await _filed(world)
    await services.assign(cs, cid)
    await services.forward(cs, cid, "请处理")
    assert [r.id for r in await institution_complaints(world.staff)] == [cid]
    assert await institution_complaints(world.other_staff) == []


async def test_the_borrower_files_on_the_site_and_a_refused_form_keeps_every_value(world, client):
    reference = await _application(world)
    await login(client, "/login", world.borrower_mobile)
    page = soup(await client.get(f"/me/complaints/new?application={reference}"))
    assert page.select_one(f"select[name=application] option[value='{reference}'][selected]")
    typed = {
        "target": str(world.bank_id),
        "application": reference,
        "category": "opaque_fees",
        "description": "长" * 2001,
    }
    refused = await client.submit("/me/complaints/new", typed)
    assert refused.status_code == 400
    form = soup(refused)
    assert form.select_one("textarea[name=description]").text == "长" * 2001
    assert form.select_one(f"select[name=target] option[value='{world.bank_id}'][selected]")
    assert form.select_one("select[name=category] option[value='opaque_fees'][selected]")
    filed = await client.post(
        "/me/complaints/new",
        data={
            **typed,
            "description": "服务费没有提前告知",
            "_csrf_token": await client.csrf_token(),
        },
        files=[("files", ("凭证.png", PNG, "image/png"))],
    )
    assert filed.status_code == 303
    ref = filed.headers["location"].rsplit("/", 1)[-1]
    assert ref.startswith("TS")
    listing = soup(await client.get("/me/complaints"))
    assert listing.select_one(f"tr[data-complaint='{ref}']") is not None
    detail = soup(await client.get(f"/me/complaints/{ref}"))
    link = detail.select_one("a[data-attachment]")
    download = await client.get(link["href"])
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-disposition"].startswith("attachment")
    # The personal centre and the application page link here.
    assert soup(await client.get("/me")).select_one("a[href='/me/complaints']") is not None


async def test_other_borrowers_and_other_institutions_get_404s(world, client, staff_client):
    cs = await _cs()
    ref, cid = await _filed(world)
    await services.assign(cs, cid)
    await services.forward(cs, cid, "请处理")
    await factories.user("borrower", "13500001003", "borrower", None, "路人")
    await login(client, "/login", "13500001003")
    assert (await client.get(f"/me/complaints/{ref}")).status_code == 404
    assert (await client.submit(f"/me/complaints/{ref}/rate", {"rating": "1"})).status_code == 404
    assert (await client.get("/me/complaints/new?application=LMT0000")).status_code == 200
    await login(staff_client, "/console/login", "staff@other-bank.example")
    assert (await staff_client.get(f"/console/complaints/{cid}")).status_code == 404
    answered = await staff_client.submit(f"/console/complaints/{cid}", {"body": "越权"})
    assert answered.status_code == 404
    assert soup(await staff_client.get("/console/complaints")).select("tr[data-complaint]") == []
    for path in ("/console/complaints/１", "/console/complaints/-1", "/console/complaints/9" * 30):
        assert (await staff_client.get(path)).status_code == 404


async def test_operator_and_institution_pages_move_the_complaint(world, client, staff_client):
    await _cs()
    _ref, cid = await _filed(world)
    await login(client, "/admin/login", CS)
    desk_page = soup(await client.get("/admin/complaints?overdue=&kind=complaint"))
    assert desk_page.select_one(f"tr[data-complaint='{cid}']") is not None
    version = (await _row(cid))["version"]
    assigned = await client.submit(
        f"/admin/complaints/{cid}/assign", {"assignee": "", "version": str(version)}
    )
    assert assigned.status_code == 303
    # A stale page (the old version) is refused, not applied twice.
    stale = await client.submit(
        f"/admin/complaints/{cid}/assign", {"assignee": "", "version": str(version)}
    )
    assert stale.status_code in (400, 409)
    version = (await _row(cid))["version"]
    forwarded = await client.submit(
        f"/admin/complaints/{cid}/step",
        {"action": "forward", "body": "请核实", "version": str(version)},
    )
    assert forwarded.status_code == 303
    assert (await _row(cid))["status"] == S.AWAITING_INSTITUTION
    await login(staff_client, "/console/login", "staff@test-bank.example")
    listing = soup(await staff_client.get("/console/complaints"))
    assert listing.select_one(f"tr[data-complaint='{cid}']") is not None
    empty = await staff_client.submit(
        f"/console/complaints/{cid}", {"body": "", "action": "answer"}
    )
    assert empty.status_code == 400
    answered = await staff_client.submit(
        f"/console/complaints/{cid}",
        {"body": "已退费", "action": "answer", "version": str((await _row(cid))["version"])},
    )
    assert answered.status_code == 303
    assert (await _row(cid))["status"] == S.RESOLVED
    export = await client.get("/admin/complaints/export/xlsx")
    assert export.status_code == 200 and export.content[:2] == b"PK"
    assert (await client.get("/admin/complaints/export/exe")).status_code == 404


async def test_a_read_only_operator_sees_the_desk_but_cannot_act(world, client):
    _ref, cid = await _filed(world)
    await login(client, "/admin/login", "auditor@loanmart.example")
    page = await client.get(f"/admin/complaints/{cid}")
    assert page.status_code == 200
    assert soup(page).select(f"form[action='/admin/complaints/{cid}/assign']") == []
    response = await client.submit(f"/admin/complaints/{cid}/assign", {"version": "1"})
    assert response.status_code == 403
    assert (await _row(cid))["status"] == S.OPEN


async def test_anonymous_feedback_on_the_public_page(client):
    page = soup(await client.get("/feedback"))
    assert page.select_one("input[name=contact]") is not None
    refused = await client.submit(
        "/feedback", {"category": "suggestion", "description": "", "contact": "<b>x</b>"}
    )
    assert refused.status_code == 400
    assert soup(refused).select_one("input[name=contact]")["value"] == "<b>x</b>"
    sent = await client.submit(
        "/feedback", {"category": "suggestion", "description": "希望支持夜间模式", "contact": ""}
    )
    assert sent.status_code == 303 and sent.headers["location"].startswith("/feedback/sent")
    assert await Complaint.count().where(Complaint.kind == "feedback") == 1
    # Without the CSRF token the form is refused.
    forged = await client.post("/feedback", data={"category": "suggestion", "description": "x"})
    assert forged.status_code == 403
    # The footer links here.
    assert soup(await client.get("/")).select_one("footer a[href='/feedback']") is not None


async def test_a_collection_complaint_links_the_loan_and_its_latest_contact(
    world, monkeypatch, client, staff_client
):
    from marketplace import clock
    from marketplace.collections.services import record_contact
    from marketplace.loancalc import SHANGHAI, add_months, today_shanghai
    from marketplace.loans.jobs import run_daily_overdue
    from marketplace.loans.tables import Loan
    from tests.loan_factories import disbursed_loan, reference_of

    today = today_shanghai()
    noon = datetime.combine(today, time(12, 0), tzinfo=SHANGHAI)
    monkeypatch.setattr(clock, "now", lambda: noon)
    loan_id = await disbursed_loan(world, add_months(today, -2) - timedelta(days=5), "6000", 6)
    await run_daily_overdue(today)
    contact = {"channel": "phone", "result": "promised", "note": "借款人承诺还款"}
    await record_contact(world.staff, loan_id, {**contact, "contact_time": "09:30"})
    latest = await record_contact(
        world.staff,
        loan_id,
        {**contact, "contact_time": "11:40", "channel": "sms", "result": "no_answer"},
    )
    [loan] = await Loan.select(Loan.application, Loan.dpd).where(Loan.id == loan_id)
    application = await reference_of(loan["application"])
    # The overdue loan's card links to the form with the loan's application, its
    # institution and the collection category chosen.
    await login(client, "/login", world.borrower_mobile)
    link = soup(await client.get("/me/loans")).select_one(f"#loan-{loan_id} a[data-complaint-link]")
    assert link.get_text(strip=True) == "投诉催收或这笔借款"
    form = soup(await client.get(link["href"]))
    assert form.select_one(f"select[name=application] option[value='{application}'][selected]")
    assert form.select_one(f"select[name=target] option[value='{world.bank_id}'][selected]")
    assert form.select_one("select[name=category] option[value='collection_abuse'][selected]")
    hostile = soup(await client.get("/me/complaints/new?category=%3Cscript%3E&application=x"))
    assert [o["value"] for o in hostile.select("select[name=category] option[selected]")] == [""]

    async def file(category: str) -> dict:
        ref = await services.file_complaint(
            world.borrower,
            ComplaintInput(str(world.bank_id), category, "每天打电话到单位", application),
        )
        return await Complaint.select().where(Complaint.reference == ref).first()

    abuse = await file("collection_abuse")
    assert (abuse["loan"], abuse["collection_contact"]) == (loan_id, latest)
    fees = await file("opaque_fees")  # about the loan, not about collection
    assert (fees["loan"], fees["collection_contact"]) == (loan_id, None)

    line = f"#{latest} · {today:%Y-%m-%d} 11:40 · 短信 · 无人接听 · 当时逾期{loan['dpd']}天"
    cs = await _cs()
    await login(client, "/admin/login", CS)
    assert line in (await client.get(f"/admin/complaints/{abuse['id']}")).text
    await services.assign(cs, abuse["id"])
    await services.forward(cs, abuse["id"], "请核实催收记录")
    await login(staff_client, "/console/login", "staff@test-bank.example")
    page = soup(await staff_client.get(f"/console/complaints/{abuse['id']}"))
    assert line in page.text
    assert page.select_one(f"a[href='/console/collections/{loan_id}']") is not None


async def test_anonymous_feedback_is_answered_at_the_contact_it_left(world, client):
    from marketplace.notifications.services import BODY_CONTEXT
    from marketplace.notifications.tables import Notification

    guest = services.SLA_ACTOR.__class__(
        user_id=None, kind="guest", label="guest", ip="203.0.113.9"
    )
    by_phone = await services.send_feedback(
        guest, FeedbackInput("problem_report", "计算器在手机上显示不全", "139 1234 5678")
    )
    by_mail = await services.send_feedback(
        guest, FeedbackInput("suggestion", "希望增加夜间模式", "Reader@Example.com")
    )
    silent = await services.send_feedback(guest, FeedbackInput("suggestion", "不留联系方式"))
    ids = {
        ref: (await Complaint.select(Complaint.id).where(Complaint.reference == ref).first())["id"]
        for ref in (by_phone, by_mail, silent)
    }
    cs = await _cs()

    async def sent() -> list[tuple[str, str, str]]:
        rows = await Notification.select().where(Notification.template == "complaint.answer")
        return [
            (
                r["channel"],
                r["recipient_masked"],
                decrypt_field(r["body_encrypted"], context=BODY_CONTEXT),
            )
            for r in sorted(rows, key=lambda r: r["id"])
        ]

    # The desk sees the masked contact and is told where its answer goes.
    await login(client, "/admin/login", CS)
    page = soup(await client.get(f"/admin/complaints/{ids[by_phone]}"))
    assert "139****5678" in page.select_one("#f-reply-hint").get_text()
    assert "13912345678" not in page.text

    for ref in (by_phone, by_mail, silent):
        await services.assign(cs, ids[ref])
    # An SMS answer must fit one long SMS: refused with the field named, nothing sent.
    with pytest.raises(DomainError) as refused:
        await services.reply(cs, ids[by_phone], "很" * (services.SMS_ANSWER_MAX_LENGTH + 1))
    assert refused.value.field == "reply"
    await services.reply(cs, ids[by_phone], "已修复，请刷新页面")
    await services.resolve(cs, ids[by_mail], "已列入下个版本计划。" + "谢谢" * 200)
    await services.resolve(cs, ids[silent], "感谢建议")
    await services.add_note(cs, ids[by_phone], "内部：前端已发版")
    assert await sent() == [
        ("sms", "139****5678", f"【LoanMart】您的意见反馈{by_phone}有答复：已修复，请刷新页面"),
        (
            "email",
            "r***@example.com",
            f"【LoanMart】您的意见反馈{by_mail}有答复：已列入下个版本计划。" + "谢谢" * 200,
        ),
    ]
