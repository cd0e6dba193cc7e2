"""Asking for documents (issue 7, I3/P6): the officer asks which kinds and why → the
borrower gets a task, uploads real files (checked by their bytes, 5 MB each, 10 per
request) and hands the lead back once → the officer downloads them (audited); nobody
else can see them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.audit.tables import AuditEntry
from marketplace.consents.tables import Consent
from marketplace.documents.services import MAX_FILE_BYTES, MAX_FILES_PER_REQUEST
from marketplace.documents.tables import Document, DocumentRequest
from marketplace.inbox.tables import InboxItem
from marketplace.notifications.tables import Notification
from tests import factories
from tests.fixtures import Client, login, soup
from tests.integration.test_lead_decisions import _lead

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x01" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x02" * 64
REASON = "请补充近六个月银行流水与收入证明，以便核实还款能力。"


async def _ask(client: Client, world, kinds=("income_proof", "bank_statement")) -> Application:
    lead = await _lead(client, world)
    await login(client, "/console/login", "staff@test-bank.example")
    response = await client.submit(
        f"/console/leads/{lead.id}/documents", {"kinds": list(kinds), "documents_reason": REASON}
    )
    assert response.status_code == 303
    await client.submit("/console/logout")
    return lead


async def _upload(client: Client, reference: str, kind: str, *files: tuple[str, bytes]):
    return await client.submit(
        f"/me/applications/{reference}/documents",
        {"kind": kind},
        files=[("files", (name, content, "application/octet-stream")) for name, content in files],
    )


async def test_officer_asks_with_kinds_and_a_reason_and_hostile_values_change_nothing(
    client, world
):
    lead = await _lead(client, world)
    url = f"/console/leads/{lead.id}/documents"
    await login(client, "/console/login", "staff@test-bank.example")
    page = soup(await client.get(f"/console/leads/{lead.id}"))
    assert len(page.select(f"form[action='{url}'] input[name=kinds]")) == 8
    for form in (
        {"documents_reason": REASON},
        {"kinds": "no_such_kind", "documents_reason": REASON},
        {"kinds": ["income_proof", "x" * 10_000], "documents_reason": REASON},
        {"kinds": "income_proof", "documents_reason": ""},
        {"kinds": "income_proof", "documents_reason": "因" * 501},
        {"kinds": "income_proof", "documents_reason": "a\x00b"},
    ):
        response = await client.submit(url, form)
        assert response.status_code == 400, form
        if "\x00" not in form["documents_reason"]:
            kept = soup(response).select_one("textarea[name=documents_reason]").text
            assert kept == form["documents_reason"], "what was typed comes back"
    assert (
        "请勾选需要借款人补充的资料"
        in (await client.submit(url, {"documents_reason": REASON})).text
    )
    assert (await Application.objects().get(Application.id == lead.id)).status == "delivered"
    assert await DocumentRequest.count() == 0
    assert (
        await client.submit(f"/console/leads/{lead.id}/status", {"action": "request_documents"})
    ).status_code == 400

    response = await client.submit(url, {"kinds": ["bank_statement"], "documents_reason": REASON})
    assert response.status_code == 303
    assert (
        await Application.objects().get(Application.id == lead.id)
    ).status == "documents_requested"
    assert await AuditEntry.exists().where(AuditEntry.action == "lead.documents_requested")
    # The borrower is told in-site and by SMS; no personal data in either.
    inbox = await InboxItem.objects().where(InboxItem.recipient == lead.borrower).first()
    assert inbox.link == f"/me/applications/{lead.reference}/documents"
    assert await Notification.count().where(Notification.template == "documents") == 1
    # The SLA clock stops: the lead waits on the borrower, not on the institution.
    home = soup(await client.get("/console/"))
    tile = home.select_one("a[href$='status=documents_requested']")
    assert tile is not None and "待补充资料" in tile.text and "1" in tile.text
    row = soup(await client.get("/console/leads?assignee=all")).select_one(
        f"tr[data-lead='{lead.id}']"
    )
    assert row.select_one("[data-sla]")["data-sla"] == ""


async def test_borrower_uploads_checked_files_and_hands_the_lead_back_once(client, world):
    lead = await _ask(client, world)
    ref = lead.reference
    await login(client, "/login", world.borrower_mobile)
    detail = await client.get(f"/me/applications/{ref}")
    assert "请补充资料" in detail.text and REASON in detail.text
    assert "收入证明" in detail.text and "银行流水" in detail.text
    assert "该申请已办结" not in detail.text
    upcoming = soup(detail).select(".timeline__item--upcoming .timeline__label")
    assert [step.text for step in upcoming] == ["已批复"], "the way on is still shown"
    page = soup(await client.get(f"/me/applications/{ref}/documents"))
    assert page.select("form[enctype='multipart/form-data'] input[type=file][name=files]")

    refused = {
        "a PNG named .pdf": [("流水.pdf", PNG)],
        "garbage named .pdf": [("流水.pdf", b"MZ\x90\x00 not a pdf")],
        "an empty file": [("空.pdf", b"")],
        "over 5 MB": [("大.pdf", PDF + b"0" * MAX_FILE_BYTES)],
    }
    for why, files in refused.items():
        response = await _upload(client, ref, "bank_statement", *files)
        assert response.status_code == 400, why
        assert soup(response).select_one(".error-summary"), why
    assert (await _upload(client, ref, "id_card", ("a.png", PNG))).status_code == 400
    assert await Document.count() == 0

    assert (
        await _upload(client, ref, "income_proof", ("../../etc/收入证明.pdf", PDF))
    ).status_code == 303
    # Missing a kind: the hand-back is refused and says which.
    early = await client.submit(f"/me/applications/{ref}/documents/return")
    assert early.status_code == 400 and "请先上传：银行流水" in early.text

    nine = [(f"流水{i}.png", PNG) for i in range(MAX_FILES_PER_REQUEST - 2)] + [("x.jpg", JPEG)]
    assert (await _upload(client, ref, "bank_statement", *nine)).status_code == 303
    eleventh = await _upload(client, ref, "bank_statement", ("再一个.png", PNG))
    assert eleventh.status_code == 400 and "最多上传10个文件" in eleventh.text
    assert await Document.count() == MAX_FILES_PER_REQUEST
    stored = await Document.objects().where(Document.kind == "income_proof").first()
    assert stored.original_name == "收入证明.pdf" and stored.content_type == "application/pdf"
    assert PDF not in stored.content_encrypted, "encrypted at rest"
    own = await client.get(f"/me/applications/{ref}/documents/{stored.id}")
    assert own.status_code == 200 and own.content == PDF

    before = await ApplicationEvent.count().where(ApplicationEvent.application == lead.id)
    token = await client.csrf_token()
    answers = await asyncio.gather(
        *(
            client.post(f"/me/applications/{ref}/documents/return", data={"_csrf_token": token})
            for _twice in range(2)
        )
    )
    assert sorted(a.status_code for a in answers) == [303, 409]
    assert (await Application.objects().get(Application.id == lead.id)).status == "reviewing"
    assert (
        await ApplicationEvent.count().where(ApplicationEvent.application == lead.id) == before + 1
    )
    assert (await DocumentRequest.objects().first()).status == "fulfilled"
    # Handed back: nothing more can be added.
    assert (await _upload(client, ref, "bank_statement", ("late.png", PNG))).status_code == 409
    told = await InboxItem.objects().order_by(InboxItem.id, ascending=False).first()
    assert told.link == f"/console/leads/{lead.id}"


async def test_officer_downloads_audited_and_nobody_else_sees_the_files(app, client, world):
    lead = await _ask(client, world, kinds=("income_proof",))
    await login(client, "/login", world.borrower_mobile)
    assert (
        await _upload(client, lead.reference, "income_proof", ('a"; b.pdf', PDF))
    ).status_code == 303
    assert (
        await client.submit(f"/me/applications/{lead.reference}/documents/return")
    ).status_code == 303
    document = await Document.objects().first()
    await client.submit("/logout")

    await login(client, "/console/login", "staff@test-bank.example")
    page = await client.get(f"/console/leads/{lead.id}")
    link = f"/console/leads/{lead.id}/documents/{document.id}"
    assert soup(page).select_one(f"a[href='{link}']") is not None
    download = await client.get(link)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"].startswith("application/pdf")
    assert download.headers["x-content-type-options"] == "nosniff"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="document.pdf"; filename*=UTF-8')
    assert '"' not in disposition.split("filename*=")[1] and ";" not in disposition.split("''")[1]
    audit = await AuditEntry.objects().where(AuditEntry.action == "document.download").first()
    assert audit.object_id == str(lead.id) and str(document.id) in str(audit.detail)
    assert (
        await client.get(f"/console/leads/{lead.id}/documents/{document.id + 1}")
    ).status_code == 404
    await client.submit("/console/logout")

    await login(client, "/console/login", "staff@other-bank.example")
    assert (await client.get(link)).status_code == 404
    await client.submit("/console/logout")

    await factories.user("borrower", "13800000002", "borrower", None, "李雷")
    await login(client, "/login", "13800000002")
    assert (await client.get(f"/me/applications/{lead.reference}/documents")).status_code == 404
    mine = f"/me/applications/{lead.reference}/documents/{document.id}"
    assert (await client.get(mine)).status_code == 404
    upload = await _upload(client, lead.reference, "income_proof", ("x.pdf", PDF))
    assert upload.status_code == 404
    assert await Document.count() == 1
    assert await AuditEntry.count().where(AuditEntry.action == "document.download") == 1
    await client.submit("/logout")

    # Consent withdrawn: the institution can no longer open what the borrower sent.
    await Consent.update({Consent.withdrawn_at: datetime.now(UTC)}).where(
        Consent.id == lead.consent
    )
    await login(client, "/console/login", "staff@test-bank.example")
    withdrawn = await client.get(link)
    assert withdrawn.status_code == 404 and PDF not in withdrawn.content
