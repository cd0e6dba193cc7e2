"""Repayment files (issue 7, I3/I9): every row is checked first; one bad row applies
nothing and the page names the row, the column and the reason; a good file applies whole
in one transaction; the same file twice records nothing twice; hostile files are clear
errors, never a 500."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import timedelta
from decimal import Decimal

import openpyxl

from marketplace.audit.tables import AuditEntry
from marketplace.loancalc import add_months, today_shanghai
from marketplace.loans.tables import Instalment, Loan, Repayment
from tests.fixtures import login, soup
from tests.loan_factories import disbursed_loan, reference_of

STAFF = "staff@test-bank.example"
HEADER = "借款编号,还款日期,金额,类型,流水号\n"
URL = "/console/loans/repayments/upload"


async def _loans(world) -> list[tuple[int, str, Decimal]]:
    """Two loans with their first instalment due (overdue), as (id, reference, due)."""
    today = today_shanghai()
    loans = []
    for principal in ("6000", "3000"):
        loan_id = await disbursed_loan(
            world, add_months(today, -1) - timedelta(days=2), principal, 6
        )
        loan = await Loan.objects().get(Loan.id == loan_id)
        first = (
            await Instalment.select()
            .where((Instalment.loan == loan_id) & (Instalment.number == 1))
            .first()
        )
        due = first["principal_due"] + first["interest_due"] + first["fee_due"]
        loans.append((loan_id, await reference_of(loan.application), due))
    return loans


async def _upload(client, name: str, content: bytes, media_type: str = "text/csv"):
    token = await client.csrf_token()
    return await client.post(
        URL, data={"_csrf_token": token}, files={"file": (name, content, media_type)}
    )


def _errors(response) -> list[tuple[str, str, str]]:
    return [
        tuple(td.get_text(strip=True) for td in row.select("td"))
        for row in soup(response).select("tr[data-row]")
    ]


async def test_a_bad_row_applies_nothing_and_is_named(client, world):
    (a, ref_a, due_a), (b, ref_b, due_b) = await _loans(world)
    theirs = await disbursed_loan(world, today_shanghai(), "1000", 3)
    await Loan.update({Loan.institution: world.other_bank_id}).where(Loan.id == theirs)
    ref_theirs = await reference_of((await Loan.objects().get(Loan.id == theirs)).application)
    today = today_shanghai().isoformat()
    await login(client, "/console/login", STAFF)
    content = (
        HEADER
        + f"{ref_a},{today},{due_a},正常,BANK-A-001\n"
        + f"{ref_b},{today},abc,正常,BANK-B-001\n"
        + f"{ref_theirs},{today},10,部分,BANK-C-001\n"
        + f"{ref_b},2026-02-30,10,部分,BANK-B-002\n"
        + f"{ref_b},{today},10,奖励,BANK-B-003\n"
        + f"{ref_a},{today},=1+1,正常,BANK-A-002\n"
        + f"{ref_b},{today},{due_b - 1},正常,BANK-B-004\n"
    ).encode()
    response = await _upload(client, "repayments.csv", content)
    assert response.status_code == 400
    assert _errors(response) == [
        ("第 3 行", "金额", "请填写正确的金额"),
        ("第 4 行", "借款编号", "找不到该借款编号"),
        ("第 5 行", "还款日期", "请填写正确的还款日期，如 2026-01-31"),
        ("第 6 行", "类型", "类型应为：正常、部分或提前结清"),
        ("第 7 行", "金额", "不接受公式或以 = + - @ 开头的内容"),
        ("第 8 行", "类型", "金额不足以还清当期，请登记为部分还款"),
    ]
    assert await Repayment.count() == 0
    assert (await Loan.objects().get(Loan.id == a)).status == "disbursed"
    (audit,) = (
        await AuditEntry.select(AuditEntry.detail)
        .where(AuditEntry.action == "loan.repayment_file")
        .output(load_json=True)
    )
    assert audit["detail"] | {} == {
        "rows": 7,
        "recorded": 0,
        "already_recorded": 0,
        "errors": 6,
    }


async def test_a_good_file_applies_every_row_and_once_only(client, world):
    (a, ref_a, due_a), (b, ref_b, due_b) = await _loans(world)
    today = today_shanghai().isoformat()
    await login(client, "/console/login", STAFF)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["流水号", "借款编号", "还款日期", "金额", "类型"])  # any column order
    sheet.append(["BANK-A-001", ref_a, today_shanghai(), float(due_a), "正常"])
    sheet.append(["BANK-B-001", ref_b, today, "100", "部分"])
    sheet.append(["BANK-B-002", ref_b, today, str(due_b - 100), "按期还款"])
    sheet.append([None, None, None, None, None])  # blank rows are skipped
    buffer = io.BytesIO()
    book.save(buffer)
    content = buffer.getvalue()

    response = await _upload(client, "repayments.xlsx", content, "application/octet-stream")
    assert response.status_code == 303, _errors(response) or response.text[:300]
    assert await Repayment.count() == 3
    assert {loan.status for loan in await Loan.objects()} == {"repaying"}
    # The first instalment of B is paid by its two rows together (a partial, then the rest).
    first_b = (
        await Instalment.select().where((Instalment.loan == b) & (Instalment.number == 1)).first()
    )
    assert first_b["status"] == "paid"

    # The same file again, twice at once: nothing recorded twice.
    again = await asyncio.gather(
        *(_upload(client, "repayments.xlsx", content, "application/octet-stream") for _ in range(2))
    )
    assert [r.status_code for r in again] == [303, 303]
    assert await Repayment.count() == 3
    page = (await client.get(URL)).text
    assert "0 笔还款；3 笔此前已登记" in page
    audits = (
        await AuditEntry.select(AuditEntry.detail)
        .where(AuditEntry.action == "loan.repayment_file")
        .order_by(AuditEntry.id)
        .output(load_json=True)
    )
    assert [(x["detail"]["recorded"], x["detail"]["already_recorded"]) for x in audits] == [
        (3, 0),
        (0, 3),
        (0, 3),
    ]
    # A row reusing a recorded reference with other figures is an error, not a skip.
    changed = (HEADER + f"{ref_a},{today},1.00,部分,BANK-A-001\n").encode()
    response = await _upload(client, "again.csv", changed)
    assert response.status_code == 400
    assert _errors(response)[0][1:] == ("流水号", "该流水号已登记过，内容不同，请核对后重新登记")
    # Repeated within one file.
    twice = (
        HEADER + f"{ref_a},{today},1.00,部分,DUP-1\n" + f"{ref_a},{today},1.00,部分,DUP-1\n"
    ).encode()
    assert _errors(await _upload(client, "twice.csv", twice))[0] == (
        "第 3 行",
        "流水号",
        "与第 2 行流水号重复",
    )
    assert await Repayment.count() == 3


async def test_hostile_files_are_clear_errors(client, world):
    (a, ref_a, due_a), _b = await _loans(world)
    await login(client, "/console/login", STAFF)
    today = today_shanghai().isoformat()
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/big.xml", b"0" * (50 * 1024 * 1024))
    rows = "".join(f"{ref_a},{today},1,部分,R{i:06d}\n" for i in range(5001))
    cases = [
        (b"", "文件是空的"),
        (b"x" * (2 * 1024 * 1024 + 1), "不能超过 2 MB"),
        (b"PK\x03\x04garbage", "无法读取该文件"),
        (bomb.getvalue(), "无法读取该文件"),
        (b"\xd0\xcf\x11\xe0old excel", "不支持旧版 .xls"),
        (b"\x00\x01\x02\xff\xfe", "无法读取该文件"),
        ("借款编号,金额\n1,2\n".encode(), "第一行应为列名"),
        (HEADER.encode(), "没有还款记录"),
        ((HEADER + rows).encode(), "最多 5000 行"),
        (json.dumps({"a": 1}).encode(), "第一行应为列名"),
    ]
    for content, message in cases:
        response = await _upload(client, "bad.csv", content)
        assert response.status_code == 400, message
        assert message in soup(response).get_text(), message
    hostile_rows = (
        HEADER
        + f"{ref_a},{today},1,部分,BANK\x00NUL\n"
        + f"{ref_a},{today},1,部分,流水😀\n"
        + f"{ref_a},{today},1,部分,{'X' * 101}\n"
        + f"{ref_a},{today},-1,部分,NEG-1\n"
        + f"{ref_a},{today},1e9,部分,EXP-1\n"
        + f"{ref_a},{today},0.001,部分,FEN-1\n"
        + f"{ref_a},2999-01-01,1,部分,FUT-1\n"
        + f"{ref_a},@SUM(A1),1,部分,AT-1\n"
    ).encode("gb18030")
    response = await _upload(client, "bad.csv", hostile_rows)
    assert response.status_code == 400
    assert [row for row, _c, _m in _errors(response)] == [f"第 {n} 行" for n in range(2, 10)]
    no_file = await client.post(URL, data={"_csrf_token": await client.csrf_token()})
    assert no_file.status_code == 400 and "请选择要上传的文件" in no_file.text
    assert await Repayment.count() == 0


async def test_template_downloads_and_permissions(client, world):
    await login(client, "/console/login", STAFF)
    csv_template = await client.get("/console/loans/repayments/template/csv")
    assert csv_template.content.decode("utf-8-sig").strip() == HEADER.strip()
    xlsx = await client.get("/console/loans/repayments/template/xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    assert [c.value for c in next(sheet.iter_rows())] == HEADER.strip().split(",")
    assert (await client.get("/console/loans/repayments/template/exe")).status_code == 404
    from tests.factories import user

    await user("staff", "risk@test-bank.example", "risk_officer", world.bank_id, "赵敏")
    client.cookies.clear()
    await login(client, "/console/login", "risk@test-bank.example")
    assert (await client.get(URL)).status_code == 403
    assert (await _upload(client, "x.csv", HEADER.encode())).status_code == 403
