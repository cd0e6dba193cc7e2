"""Reconciliation pages (issue 9): the institution uploads its month's disbursement ledger
(whole file or nothing, every bad row named with its reason), adds or corrects one row,
resolves discrepancies with a note and exports the rows; operators see any institution's
month. Hostile files are clear errors, never a 500; another institution's rows are never
visible."""

from __future__ import annotations

import asyncio
import io
import zipfile
from datetime import timedelta

import openpyxl

from marketplace.audit.tables import AuditEntry
from marketplace.loans.tables import Loan
from marketplace.reconciliation.ledger import current_period, period_text, previous_period
from marketplace.reconciliation.tables import DisbursementReport, ReportedDisbursement
from tests.factories import user
from tests.fixtures import login, soup
from tests.loan_factories import disbursed_loan, reference_of

STAFF = "staff@test-bank.example"
PERIOD = previous_period(current_period())
MONTH = period_text(PERIOD)
URL = "/console/settlement/reconciliation"
HEADER = "申请编号,放款金额,放款日期,机构借据号\n"


def _day(n: int) -> str:
    return (PERIOD + timedelta(days=n)).isoformat()


async def _loan(world, day: int, principal: str) -> str:
    loan_id = await disbursed_loan(world, PERIOD + timedelta(days=day), principal, 6)
    return await reference_of((await Loan.objects().get(Loan.id == loan_id)).application)


async def _upload(client, name: str, content: bytes, period: str = MONTH, media="text/csv"):
    token = await client.csrf_token()
    return await client.post(
        f"{URL}/upload",
        data={"_csrf_token": token, "period": period},
        files={"file": (name, content, media)},
    )


def _errors(response) -> list[tuple[str, str, str]]:
    return [
        tuple(td.get_text(strip=True) for td in row.select("td"))
        for row in soup(response).select("tr[data-row]")
    ]


def _rows(response) -> dict[str, tuple[str, str]]:
    return {
        tr["data-reference"]: (tr["data-outcome"], tr["data-state"])
        for tr in soup(response).select("tr[data-reference]")
    }


def _xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def test_upload_matches_and_a_discrepancy_is_resolved_with_a_note(client, world):
    matched = await _loan(world, 1, "5000")
    differs = await _loan(world, 2, "6000")
    unreported = await _loan(world, 3, "7000")
    await login(client, "/console/login", STAFF)
    content = _xlsx(
        [
            ["放款日期", "申请编号", "放款金额", "机构借据号"],  # any column order
            [PERIOD + timedelta(days=1), matched, 5000.0, "JJ-1"],
            [_day(2), differs, "6000.10", None],
            [_day(4), "=cmd|' /C calc'!A0", "100", None],
        ]
    )
    response = await _upload(client, "ledger.xlsx", content, media="application/octet-stream")
    assert response.status_code == 303, _errors(response) or response.text[:500]

    page = await client.get(f"{URL}?period={MONTH}")
    assert page.status_code == 200
    assert _rows(page) == {
        matched: ("matched", ""),
        differs: ("amount_differs", "open"),
        unreported: ("missing_in_report", "open"),
        "=cmd|' /C calc'!A0": ("missing_on_platform", "open"),
    }
    cells = [
        td.get_text(strip=True) for td in soup(page).select(f'tr[data-reference="{differs}"] td')
    ]
    assert "¥6,000.10" in cells and "¥6,000.00" in cells and "¥0.10" in cells

    # An empty note is refused with the typed values kept; a note resolves it.
    response = await client.submit(
        f"{URL}/resolve", {"period": MONTH, "reference": differs, "note": "   "}
    )
    assert response.status_code == 400
    assert "请填写处理说明" in response.text
    response = await client.submit(
        f"{URL}/resolve",
        {"period": MONTH, "reference": differs, "note": "机构多报 0.10 元，已更正"},
    )
    assert response.status_code == 303
    page = await client.get(f"{URL}?period={MONTH}&state=resolved")
    assert _rows(page) == {differs: ("amount_differs", "resolved")}
    assert "机构多报 0.10 元，已更正" in page.text

    # The export holds the formula as text, never as a formula.
    export = await client.get(f"{URL}/export/xlsx?period={MONTH}")
    assert export.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(export.content)).active
    references = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "'=cmd|' /C calc'!A0" in references
    assert await AuditEntry.count().where(AuditEntry.action == "reconciliation.export") == 1


async def test_a_file_with_bad_rows_imports_nothing_and_names_each_row(client, world):
    reference = await _loan(world, 1, "5000")
    await login(client, "/console/login", STAFF)
    good = (HEADER + f"{reference},5000,{_day(1)},\n").encode()
    assert (await _upload(client, "ok.csv", good)).status_code == 303
    content = (
        HEADER
        + f"{reference},5000,{_day(1)},\n"
        + f"{reference},5000,{_day(1)},\n"
        + f"LM2,-5,{_day(1)},\n"
        + f"LM3,１２３,{_day(1)},\n"
        + f"LM4,{'9' * 30},{_day(1)},\n"
        + f"LM5,100,{(PERIOD - timedelta(days=1)).isoformat()},\n"
        + f"LM6,=1+1,{_day(1)},\n"
        + f"{'x' * 20000},100,{_day(1)},\n"
        + f"LM8\x00,100,{_day(1)},\n"
        + f"LM9😀,100,{_day(2)},\n"
    ).encode()
    response = await _upload(client, "bad.csv", content)
    assert response.status_code == 400
    assert _errors(response) == [
        ("第 3 行", "申请编号", "与第 2 行申请编号重复"),
        ("第 4 行", "放款金额", "请填写正确的放款金额"),
        ("第 5 行", "放款金额", "请填写正确的放款金额"),
        ("第 6 行", "放款金额", "放款金额不能大于10000000000"),
        ("第 7 行", "放款日期", f"放款日期应在对账月份 {MONTH} 内"),
        ("第 8 行", "放款金额", "请填写正确的放款金额"),
        ("第 9 行", "申请编号", "内容过长（最多200个字）"),
        ("第 10 行", "申请编号", "申请编号含有无法识别的字符"),
    ]
    # Nothing half-imported: the earlier report stays current with its one row.
    (current,) = await DisbursementReport.select().where(DisbursementReport.is_current.eq(True))
    assert current["filename"] == "ok.csv"
    assert await ReportedDisbursement.count() == 1


async def test_hostile_files_are_one_clear_error(client, world):
    await login(client, "/console/login", STAFF)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/big.xml", b"0" * (60 * 1024 * 1024))
    cases = [
        ("ledger.csv", b"", "文件是空的"),
        ("ledger.csv", b"x" * (2 * 1024 * 1024 + 1), "文件不能超过 2 MB"),
        ("ledger.xls", b"\xd0\xcf\x11\xe0" + b"0" * 100, "不支持旧版 .xls 文件"),
        ("ledger.xlsx", b"%PDF-1.4 not a sheet at all", "第一行应为列名"),
        ("ledger.xlsx", bomb.getvalue(), "无法读取该文件"),
        ("ledger.csv", b"PK\x03\x04garbage", "无法读取该文件"),
        ("ledger.csv", HEADER.encode(), "文件中没有放款记录"),
        ("ledger.csv", b"\xff\xfe\x00\x00\x81\x30", "无法读取该文件"),
    ]
    for name, content, message in cases:
        response = await _upload(client, name, content)
        assert response.status_code == 400, name
        assert message in response.text, (name, soup(response).select_one(".banner"))
    rows = "".join(f"LM{n},100,{_day(1)},\n" for n in range(5001))
    response = await _upload(client, "many.csv", (HEADER + rows).encode())
    assert response.status_code == 400
    assert "每个文件最多 5000 行" in response.text
    response = await _upload(client, "ok.csv", (HEADER + f"LM1,1,{_day(1)},\n").encode(), "2999-01")
    assert response.status_code == 400
    assert "对账月份不能晚于本月" in response.text
    assert await DisbursementReport.count() == 0


async def test_a_row_by_form_with_hostile_values_is_rerendered(client, world):
    reference = await _loan(world, 1, "5000")
    await login(client, "/console/login", STAFF)
    response = await client.submit(
        f"{URL}/rows",
        {
            "period": MONTH,
            "application_reference": reference,
            "principal": "-1",
            "disbursed_on": "2026-02-30",
            "loan_number": "x" * 20000,
        },
    )
    assert response.status_code == 400
    page = soup(response)
    assert page.select_one("#f-application_reference")["value"] == reference
    assert page.select_one("#f-principal")["value"] == "-1"
    assert len(page.select(".error-summary li")) == 3
    response = await client.submit(
        f"{URL}/rows",
        {
            "period": MONTH,
            "application_reference": reference,
            "principal": "5000",
            "disbursed_on": _day(1),
        },
    )
    assert response.status_code == 303
    assert _rows(await client.get(f"{URL}?period={MONTH}")) == {reference: ("matched", "")}


async def test_another_institution_sees_nothing_of_ours(client, world):
    reference = await _loan(world, 1, "5000")
    await login(client, "/console/login", "staff@other-bank.example")
    page = await client.get(f"{URL}?period={MONTH}")
    assert page.status_code == 200
    assert _rows(page) == {}
    # Reporting our reference: missing on platform for them, nothing of our loan shown.
    content = (HEADER + f"{reference},5000,{_day(1)},\n").encode()
    assert (await _upload(client, "theirs.csv", content)).status_code == 303
    page = await client.get(f"{URL}?period={MONTH}")
    assert _rows(page) == {reference: ("missing_on_platform", "open")}
    row = soup(page).select_one(f'tr[data-reference="{reference}"]').get_text()
    assert "¥5,000.00" in row  # their own figure only
    assert row.count("¥") == 1
    # Resolving our discrepancy by reference resolves only theirs, never ours.
    response = await client.submit(
        f"{URL}/resolve", {"period": MONTH, "reference": reference, "note": "不是我们的"}
    )
    assert response.status_code == 303
    await login(client, "/console/login", STAFF)
    assert _rows(await client.get(f"{URL}?period={MONTH}")) == {
        reference: ("missing_in_report", "open")
    }


async def test_operators_see_any_institution_and_the_auditor_only_reads(client, world):
    reference = await _loan(world, 1, "5000")
    await user("operator", "finance@loanmart.example", "finance", None, "财务")
    await login(client, "/admin/login", "finance@loanmart.example")
    page = await client.get("/admin/settlement/reconciliation")
    assert page.status_code == 200
    assert soup(page).select_one("select[name=institution]") is not None
    url = f"/admin/settlement/reconciliation?institution={world.bank_id}&period={MONTH}"
    page = await client.get(url)
    assert _rows(page) == {reference: ("missing_in_report", "open")}
    response = await client.submit(
        "/admin/settlement/reconciliation/resolve",
        {
            "institution": str(world.bank_id),
            "period": MONTH,
            "reference": reference,
            "note": "机构补报中",
        },
    )
    assert response.status_code == 303
    assert _rows(await client.get(url)) == {reference: ("missing_in_report", "resolved")}
    missing = await client.get(
        "/admin/settlement/reconciliation?institution=999999&period=" + MONTH
    )
    assert missing.status_code == 404
    export = await client.get(
        f"/admin/settlement/reconciliation/export/xlsx?institution={world.bank_id}&period={MONTH}"
    )
    assert export.status_code == 200

    auditor = client
    await client.post("/admin/logout", data={"_csrf_token": await client.csrf_token()})
    await login(auditor, "/admin/login", "auditor@loanmart.example")
    page = await auditor.get(url)
    assert page.status_code == 200
    assert soup(page).select("form[action='/admin/settlement/reconciliation/resolve']") == []


async def test_the_demo_shows_every_kind_of_row(client):
    from marketplace.demo.reconciliation import UNKNOWN_REFERENCE
    from marketplace.demo.seed import seed_demo

    assert await seed_demo()
    (report,) = await DisbursementReport.select()
    await login(client, "/console/login", "admin@huaxin-bank.example", "Demo12345")
    page = await client.get(f"{URL}?period={period_text(report['period'])}")
    rows = _rows(page)
    assert rows[UNKNOWN_REFERENCE] == ("missing_on_platform", "resolved")
    assert "matched" in {outcome for outcome, _state in rows.values()}


async def test_parallel_uploads_leave_exactly_one_current_report(client, world):
    reference = await _loan(world, 1, "5000")
    await login(client, "/console/login", STAFF)
    files = [(HEADER + f"{reference},{5000 + n},{_day(1)},\n").encode() for n in range(5)]
    responses = await asyncio.gather(
        *(_upload(client, f"ledger-{n}.csv", content) for n, content in enumerate(files))
    )
    assert {r.status_code for r in responses} == {303}
    assert await DisbursementReport.count() == 5
    (current,) = await DisbursementReport.select().where(DisbursementReport.is_current.eq(True))
    assert (
        await ReportedDisbursement.count().where(ReportedDisbursement.report == current["id"]) == 1
    )


async def test_hostile_query_values_are_never_a_500(client, world):
    await login(client, "/console/login", STAFF)
    for query in (
        "period=%00",
        "period=２０２６-01",
        "period=9999-99",
        "page=99999999999",
        "outcome=%F0%9F%98%80",
        "q=" + "x" * 20000,
        "state=<script>",
    ):
        response = await client.get(f"{URL}?{query}")
        assert response.status_code == 200, query
    for path in ("/export/pdf", "/template/exe"):
        assert (await client.get(URL + path)).status_code == 404
    await user("operator", "finance@loanmart.example", "finance", None, "财务")
    await login(client, "/admin/login", "finance@loanmart.example")
    for query in (
        "institution=abc",
        "institution=１",
        "institution=99999999999999",
        f"institution={world.bank_id}&period=%00&page=0",
    ):
        response = await client.get(f"/admin/settlement/reconciliation?{query}")
        assert response.status_code == 200, query
    response = await client.get("/admin/settlement/reconciliation/export/xlsx")
    assert response.status_code == 404
