"""The borrower's saved documents (issue 10, P5): a library in the personal centre
(/me/documents) whose files are checked by their bytes, stored encrypted through the
storage interface, bounded by a quota that holds under parallel uploads, and shared
only by answering an institution's request; deleting from it does not recall a copy;
files sent for an open request can be taken back."""

from __future__ import annotations

import asyncio
import unicodedata

from marketplace import storage
from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.documents.services import MAX_FILE_BYTES, MAX_FILES_PER_REQUEST
from marketplace.documents.tables import Document, LibraryDocument
from marketplace.parameters.tables import SystemParameter
from tests import factories
from tests.fixtures import Client, login, soup
from tests.integration.test_documents import JPEG, PDF, PNG, _ask, _upload
from tests.integration.test_lead_decisions import _lead

LIBRARY = "/me/documents"
OTHER_BORROWER = "13800000002"


async def _save(client: Client, kind: str, *files: tuple[str, bytes]):
    return await client.submit(
        LIBRARY,
        {"kind": kind},
        files=[("files", (name, content, "application/octet-stream")) for name, content in files],
    )


async def _actions(action: str) -> int:
    return await AuditEntry.count().where(AuditEntry.action == action)


async def test_borrower_keeps_lists_downloads_and_deletes_saved_documents(client, world):
    await login(client, "/login", world.borrower_mobile)
    home = soup(await client.get("/me"))
    assert home.select_one(f"a[href='{LIBRARY}']") is not None, "linked from the personal centre"
    empty = await client.get(LIBRARY)
    assert empty.status_code == 200 and "还没有保存的资料" in empty.text
    kinds = [o["value"] for o in soup(empty).select("select[name=kind] option") if o["value"]]
    assert {"id_card_front", "id_card_back", "income_proof", "employment_proof"} <= set(kinds)

    response = await _save(client, "id_card_front", ("身份证人像面.png", PNG))
    assert response.status_code == 303
    assert (await _save(client, "income_proof", ("收入证明.pdf", PDF))).status_code == 303
    page = soup(await client.get(LIBRARY))
    rows = page.select("tr[data-library-document]")
    assert len(rows) == 2
    texts = " ".join(row.text for row in rows)
    assert "身份证人像面.png" in texts and "身份证人像面" in texts and "收入证明.pdf" in texts
    assert "未提供给任何机构" in texts and "KB" in texts
    assert "已保存 2 / 20 个文件" in page.text

    saved = await LibraryDocument.objects().where(LibraryDocument.kind == "id_card_front").first()
    assert saved.original_name == "身份证人像面.png" and saved.content_type == "image/png"
    assert saved.size == len(PNG) and "身份证" not in saved.storage_key
    raw = await storage.adapter().get(saved.storage_key)
    assert PNG not in raw, "encrypted at rest"

    link = f"{LIBRARY}/{saved.id}"
    download = await client.get(link)
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-type"].startswith("image/png")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert await _actions("document.library_upload") == 2
    assert await _actions("document.library_download") == 1

    deleted = await client.submit(f"{link}/delete")
    assert deleted.status_code == 303
    assert (await client.get(link)).status_code == 404
    assert (await client.submit(f"{link}/delete")).status_code == 404
    assert not await LibraryDocument.exists().where(LibraryDocument.id == saved.id)
    try:
        await storage.adapter().get(saved.storage_key)
        raise AssertionError("the stored file is deleted with its row")
    except storage.StoredFileMissing:
        pass
    assert await _actions("document.library_delete") == 1
    entry = await AuditEntry.objects().where(AuditEntry.action == "document.library_delete").first()
    assert "身份证人像面.png" not in str(entry.detail), "no file names in the audit log"


async def test_hostile_files_and_values_are_refused_with_a_message_and_nothing_stored(
    client, world
):
    await login(client, "/login", world.borrower_mobile)
    refused = {
        "a PDF named .png": [("照片.png", PDF)],
        "an executable named .jpg": [("照片.jpg", b"MZ\x90\x00\x03 not an image")],
        "HTML named .png": [("x.png", b"<html><script>alert(1)</script></html>")],
        "a PNG named .pdf (polyglot)": [("证明.pdf", PNG + b"%PDF-1.7 <script>")],
        "an empty file": [("空.pdf", b"")],
        "over 5 MB": [("大.pdf", PDF + b"0" * MAX_FILE_BYTES)],
        "too many at once": [(f"{i}.png", PNG) for i in range(MAX_FILES_PER_REQUEST + 1)],
        "no file": [],
    }
    for why, files in refused.items():
        response = await _save(client, "income_proof", *files)
        assert response.status_code == 400, why
        summary = soup(response).select_one(".error-summary")
        assert summary is not None and summary.text.strip(), why
        chosen = soup(response).select_one("select[name=kind] option[selected]")
        assert chosen["value"] == "income_proof", f"{why}: the chosen kind is kept"
    for kind in ("", "no_such_kind", "x" * 10_000, "income_proof' OR 1=1 --", "<b>收入</b>"):
        response = await _save(client, kind, ("a.png", PNG))
        assert response.status_code == 400, kind
        assert "请选择资料类型" in response.text
        assert "<b>收入</b>" not in response.text
    assert await LibraryDocument.count() == 0

    # Names are made safe: the last path part, no control characters, the real extension.
    odd = {
        "../../etc/passwd.png": "passwd.png",
        "a\x00b\r\n\u202ec.png": None,  # the client escapes some; none survives raw
        "名" * 500 + ".png": "名" * 96 + ".png",
        "x.html": "x.png",  # PNG bytes: kept as the PNG they are, never as HTML
    }
    for name, shown in odd.items():
        assert (await _save(client, "other", (name, PNG))).status_code == 303, name
        row = await LibraryDocument.objects().order_by(LibraryDocument.id, ascending=False).first()
        assert row.content_type == "image/png" and row.original_name.endswith(".png")
        assert shown is None or row.original_name == shown
        assert not any(unicodedata.category(c)[0] == "C" for c in row.original_name), name
    served = await client.get(f"{LIBRARY}/{row.id}")
    assert served.headers["content-type"].startswith("image/png")
    assert served.headers["x-content-type-options"] == "nosniff"
    # Odd ids are a 404 or refused, never a 500.
    for path in (
        f"{LIBRARY}/0",
        f"{LIBRARY}/99999999999999999999",
        f"{LIBRARY}/-1",
        f"{LIBRARY}/x",
    ):
        assert (await client.get(path)).status_code in (400, 404), path


async def test_the_quota_holds_under_parallel_uploads(client, world):
    await SystemParameter.insert(SystemParameter(key="document_library_max_files", value="3"))
    await login(client, "/login", world.borrower_mobile)
    token = await client.csrf_token()

    async def one(i: int, content: bytes):
        return await client.post(
            LIBRARY,
            data={"_csrf_token": token, "kind": "income_proof"},
            files=[("files", (f"证明{i}.pdf", content, "application/pdf"))],
        )

    answers = await asyncio.gather(*(one(i, PDF) for i in range(6)))
    assert sorted(a.status_code for a in answers) == [303] * 3 + [400] * 3
    assert await LibraryDocument.count() == 3
    refused = next(a for a in answers if a.status_code == 400)
    assert "最多保存3个文件" in refused.text
    full = soup(await client.get(LIBRARY))
    assert full.select_one("input[type=file]") is None and "已达上限" in full.text

    # Total size: 1 MB in all, files of 600 KB; only one of four parallel uploads fits.
    await LibraryDocument.delete(force=True)
    await SystemParameter.update({SystemParameter.value: "20"}).where(
        SystemParameter.key == "document_library_max_files"
    )
    await SystemParameter.insert(SystemParameter(key="document_library_max_mb", value="1"))
    big = PDF + b"0" * 600 * 1024
    answers = await asyncio.gather(*(one(i, big) for i in range(4)))
    assert sorted(a.status_code for a in answers) == [303] + [400] * 3
    assert await LibraryDocument.count() == 1
    assert "总大小不能超过1MB" in next(a for a in answers if a.status_code == 400).text


async def test_another_borrowers_saved_document_is_not_found(client, world):
    await login(client, "/login", world.borrower_mobile)
    assert (await _save(client, "income_proof", ("收入证明.pdf", PDF))).status_code == 303
    saved = await LibraryDocument.objects().first()
    await client.submit("/logout")

    await factories.user("borrower", OTHER_BORROWER, "borrower", None, "李雷")
    await login(client, "/login", OTHER_BORROWER)
    assert (await client.get(f"{LIBRARY}/{saved.id}")).status_code == 404
    assert (await client.submit(f"{LIBRARY}/{saved.id}/delete")).status_code == 404
    assert "收入证明.pdf" not in (await client.get(LIBRARY)).text
    await client.submit("/logout")

    # Staff have no way in: the library is the borrower's own.
    await login(client, "/console/login", "staff@test-bank.example")
    assert (await client.get(f"{LIBRARY}/{saved.id}")).status_code in (302, 303, 403, 404)
    assert await LibraryDocument.count() == 1
    assert await _actions("document.library_download") == 0


async def test_a_saved_document_answers_only_the_institution_that_asked(client, world):
    asked = await _ask(client, world, kinds=("income_proof", "id_card"))
    quiet = await _lead(client, world)  # the same bank, another application: nothing asked
    await login(client, "/login", world.borrower_mobile)
    for kind, name, content in (
        ("income_proof", "收入证明.pdf", PDF),
        ("id_card_front", "人像面.jpg", JPEG),
        ("employment_proof", "工作证明.pdf", PDF),
    ):
        assert (await _save(client, kind, (name, content))).status_code == 303
    saved = {d.kind: d for d in await LibraryDocument.objects()}
    assert await Document.count() == 0, "nothing reaches an institution by being saved"

    url = f"/me/applications/{asked.reference}/documents"
    page = soup(await client.get(url))
    offered = {
        section["data-saved"]: [i["value"] for i in section.select("input[name=library_document]")]
        for section in page.select("[data-saved]")
    }
    assert offered == {
        "income_proof": [str(saved["income_proof"].id)],
        "id_card": [str(saved["id_card_front"].id)],
    }, "each asked kind offers the saved files that answer it, and only those"
    assert "使用已保存的资料" in page.text

    async def attach(kind: str, library_document: object):
        return await client.submit(
            f"{url}/attach", {"kind": kind, "library_document": str(library_document)}
        )

    assert (await attach("income_proof", saved["income_proof"].id)).status_code == 303
    again = await attach("income_proof", saved["income_proof"].id)
    assert again.status_code == 400 and "无需重复提交" in again.text
    wrong_kind = await attach("income_proof", saved["employment_proof"].id)
    assert wrong_kind.status_code == 400 and "不是机构要求的资料类型" in wrong_kind.text
    not_asked = await attach("employment_proof", saved["employment_proof"].id)
    assert not_asked.status_code == 400
    for hostile in ("", "abc", "-1", "9" * 50, "1 OR 1=1", "１２"):
        assert (await attach("income_proof", hostile)).status_code == 400, hostile
    assert (await attach("id_card", saved["id_card_front"].id)).status_code == 303
    # The application nobody asked documents for takes nothing.
    quiet_attach = await client.submit(
        f"/me/applications/{quiet.reference}/documents/attach",
        {"kind": "income_proof", "library_document": str(saved["income_proof"].id)},
    )
    assert quiet_attach.status_code == 409
    copies = await Document.objects().order_by(Document.id)
    assert [(c.kind, c.library_document) for c in copies] == [
        ("income_proof", saved["income_proof"].id),
        ("id_card", saved["id_card_front"].id),
    ]
    assert await _actions("document.attach") == 2
    library = soup(await client.get(LIBRARY))
    row = library.select_one(f"tr[data-library-document='{saved['income_proof'].id}']")
    assert "测试银行" in row.text, "the library says who received a copy"
    task = soup(await client.get(url))
    assert task.select_one("[data-saved]") is None, "what was sent is not offered again"
    assert "来自我的资料" in task.text
    # Another borrower cannot send this borrower's saved file, nor see the task.
    await client.submit("/logout")
    await factories.user("borrower", OTHER_BORROWER, "borrower", None, "李雷")
    await login(client, "/login", OTHER_BORROWER)
    assert (await attach("income_proof", saved["income_proof"].id)).status_code == 404
    await client.submit("/logout")

    await login(client, "/login", world.borrower_mobile)
    assert (await client.submit(f"{url}/return")).status_code == 303
    # Deleting from the library does not recall the copy the institution holds.
    assert (await client.submit(f"{LIBRARY}/{saved['income_proof'].id}/delete")).status_code == 303
    await client.submit("/logout")

    copy = copies[0]
    await login(client, "/console/login", "staff@test-bank.example")
    held = await client.get(f"/console/leads/{asked.id}/documents/{copy.id}")
    assert held.status_code == 200 and held.content == PDF
    assert (
        await client.get(f"/console/leads/{quiet.id}/documents/{copy.id}")
    ).status_code == 404, "only through the application that asked"
    await client.submit("/console/logout")
    await login(client, "/console/login", "staff@other-bank.example")
    assert (await client.get(f"/console/leads/{asked.id}/documents/{copy.id}")).status_code == 404
    await client.submit("/console/logout")

    # The borrower withdraws consent to the bank: its staff can no longer open anything.
    await login(client, "/login", world.borrower_mobile)
    withdrawn = await client.submit(f"/me/consents/{world.bank_id}/withdraw")
    assert withdrawn.status_code == 303, withdrawn.text[:300]
    await client.submit("/logout")
    await login(client, "/console/login", "staff@test-bank.example")
    lead_page = soup(await client.get(f"/console/leads/{asked.id}"))
    assert lead_page.select_one("[data-documents-withdrawn]") is not None
    assert not lead_page.select("a[href*='/documents/']"), "no file is listed any more"
    for document in copies:
        gone = await client.get(f"/console/leads/{asked.id}/documents/{document.id}")
        assert gone.status_code == 404 and PDF not in gone.content and JPEG not in gone.content
    assert await _actions("document.download") == 1


async def test_borrower_takes_back_an_upload_before_handing_the_lead_back(client, world):
    lead = await _ask(client, world, kinds=("income_proof",))
    ref = lead.reference
    await login(client, "/login", world.borrower_mobile)
    assert (await _upload(client, ref, "income_proof", ("错的.pdf", PDF))).status_code == 303
    wrong = await Document.objects().first()
    page = soup(await client.get(f"/me/applications/{ref}/documents"))
    delete_url = f"/me/applications/{ref}/documents/{wrong.id}/delete"
    assert page.select_one(f"form[action='{delete_url}']") is not None
    assert (await client.submit(delete_url)).status_code == 303
    assert await Document.count() == 0
    assert (await client.get(f"/me/applications/{ref}/documents/{wrong.id}")).status_code == 404
    assert (await client.submit(delete_url)).status_code == 404
    assert await _actions("document.delete") == 1

    # Uploaded and saved to the library in one go; the pair is linked.
    response = await client.submit(
        f"/me/applications/{ref}/documents",
        {"kind": "income_proof", "save": "1"},
        files=[("files", ("收入证明.pdf", PDF, "application/pdf"))],
    )
    assert response.status_code == 303
    sent = await Document.objects().first()
    kept = await LibraryDocument.objects().first()
    assert sent.library_document == kept.id and kept.kind == "income_proof"
    assert await storage.get(kept.storage_key) == PDF
    await client.submit("/logout")

    # Someone else's application: not found, nothing deleted.
    await factories.user("borrower", OTHER_BORROWER, "borrower", None, "李雷")
    await login(client, "/login", OTHER_BORROWER)
    other_url = f"/me/applications/{ref}/documents/{sent.id}/delete"
    assert (await client.submit(other_url)).status_code == 404
    await client.submit("/logout")

    await login(client, "/login", world.borrower_mobile)
    assert (await client.submit(f"/me/applications/{ref}/documents/return")).status_code == 303
    assert (await client.submit(other_url)).status_code == 409, "handed back: kept as sent"
    assert await Document.count() == 1
    status = (await Application.objects().get(Application.id == lead.id)).status
    assert status == "reviewing"


async def test_saving_with_an_upload_respects_the_quota_all_or_nothing(client, world):
    await SystemParameter.insert(SystemParameter(key="document_library_max_files", value="1"))
    lead = await _ask(client, world, kinds=("income_proof",))
    await login(client, "/login", world.borrower_mobile)
    response = await client.submit(
        f"/me/applications/{lead.reference}/documents",
        {"kind": "income_proof", "save": "1"},
        files=[
            ("files", ("一.pdf", PDF, "application/pdf")),
            ("files", ("二.pdf", PDF, "application/pdf")),
        ],
    )
    assert response.status_code == 400 and "最多保存1个文件" in response.text
    assert await Document.count() == 0 and await LibraryDocument.count() == 0


async def test_demo_borrower_has_saved_documents_ready_for_the_open_request(client):
    from marketplace.demo.catalogue import DEMO_PASSWORD
    from marketplace.demo.documents import seed_documents
    from marketplace.demo.seed import seed_demo

    assert await seed_demo()
    await seed_documents()
    assert await LibraryDocument.count() == 3, "seeded once"
    await login(client, "/login", "13800138000", DEMO_PASSWORD)
    page = soup(await client.get(LIBRARY))
    assert len(page.select("tr[data-library-document]")) == 3
    front = await LibraryDocument.objects().where(LibraryDocument.kind == "id_card_front").first()
    image = await client.get(f"{LIBRARY}/{front.id}")
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" in image.content
    waiting = await Application.objects().where(Application.status == "documents_requested").first()
    task = soup(await client.get(f"/me/applications/{waiting.reference}/documents"))
    assert task.select_one("[data-saved='income_proof'] input[name=library_document]")


async def test_export_lists_documents_and_account_deletion_removes_the_library(client, world):
    from datetime import UTC, datetime, timedelta

    from marketplace.consents.jobs import _collect
    from marketplace.erasure.services import process_due_deletions
    from marketplace.erasure.tables import DeletionRequest

    lead = await _ask(client, world, kinds=("income_proof",))
    await login(client, "/login", world.borrower_mobile)
    assert (await _save(client, "income_proof", ("收入证明.pdf", PDF))).status_code == 303
    saved = await LibraryDocument.objects().first()
    attached = await client.submit(
        f"/me/applications/{lead.reference}/documents/attach",
        {"kind": "income_proof", "library_document": str(saved.id)},
    )
    assert attached.status_code == 303

    exported = (await _collect(lead.borrower))["documents"]
    assert [(d["kind"], d["name"], d["size"]) for d in exported["saved"]] == [
        ("income_proof", "收入证明.pdf", len(PDF))
    ]
    assert exported["sent_to_institutions"][0]["institution"] == "测试银行"
    assert exported["sent_to_institutions"][0]["application"] == lead.reference

    past = datetime.now(UTC) - timedelta(days=1)
    await DeletionRequest.insert(
        DeletionRequest(user=lead.borrower, status="pending", requested_at=past, due_at=past)
    )
    assert await process_due_deletions() == 1
    assert await LibraryDocument.count() == 0
    try:
        await storage.adapter().get(saved.storage_key)
        raise AssertionError("the stored file goes with the account")
    except storage.StoredFileMissing:
        pass
    assert await Document.count() == 1, "the copy the institution holds is not recalled"


async def test_parallel_sends_and_deletes_act_once(client, world):
    lead = await _ask(client, world, kinds=("income_proof",))
    await login(client, "/login", world.borrower_mobile)
    for i in range(2):
        assert (await _save(client, "income_proof", (f"证明{i}.pdf", PDF))).status_code == 303
    first, second = await LibraryDocument.objects().order_by(LibraryDocument.id)
    token = await client.csrf_token()
    attach_url = f"/me/applications/{lead.reference}/documents/attach"

    def attach(saved: LibraryDocument):
        return client.post(
            attach_url,
            data={"_csrf_token": token, "kind": "income_proof", "library_document": str(saved.id)},
        )

    answers = await asyncio.gather(*(attach(first) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [303] + [400] * 3
    assert await Document.count() == 1, "the same saved file is sent once, even at once"

    # The request's ten-file limit holds when sending and uploading race.
    nine = [(f"流水{i}.png", PNG) for i in range(MAX_FILES_PER_REQUEST - 2)]
    assert (await _upload(client, lead.reference, "income_proof", *nine)).status_code == 303
    last = [("最后.png", PNG)]
    answers = await asyncio.gather(
        attach(second), _upload(client, lead.reference, "income_proof", *last)
    )
    assert sorted(a.status_code for a in answers) == [303, 400]
    assert await Document.count() == MAX_FILES_PER_REQUEST

    # Deleting twice at once deletes once.
    delete_url = f"{LIBRARY}/{second.id}/delete"
    answers = await asyncio.gather(
        *(client.post(delete_url, data={"_csrf_token": token}) for _ in range(3))
    )
    assert sorted(a.status_code for a in answers) == [303, 404, 404]
    assert await _actions("document.library_delete") == 1
