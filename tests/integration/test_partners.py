"""机构入驻 end to end: the public application, the status link, the operator's review
and approval, the first admin's one-time password link — and hostile tries at each."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta

import httpx

from marketplace.accounts.tables import AccountPasswordLink, User
from marketplace.audit.tables import AuditEntry
from marketplace.institutions.tables import Institution
from marketplace.notifications.services import BODY_CONTEXT
from marketplace.notifications.tables import Notification
from marketplace.partners.credit_code import check_char
from marketplace.partners.tables import PartnerApplication, PartnerDocument
from marketplace.security import decrypt_field
from tests import factories
from tests.fixtures import Client, login, soup

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
CODE = "91350100M000100Y43"
MOBILE = "13800138000"
EMAIL = "zhang.min@xiamen-bank.example"


def form(**overrides: str) -> dict[str, str]:
    in_a_year = (date.today() + timedelta(days=365)).isoformat()
    return {
        "company_name": "厦门示例银行股份有限公司",
        "short_name": "厦门示例银行",
        "credit_code": CODE,
        "kind": "bank",
        "city": "厦门",
        "business_licence_no": CODE,
        "business_licence_expires_on": "",
        "licence_type": "金融许可证",
        "licence_no": "B0001H235020001",
        "licence_issuer": "国家金融监督管理总局厦门监管局",
        "licence_expires_on": in_a_year,
        "contact_name": "张敏",
        "contact_mobile": MOBILE,
        "contact_email": EMAIL,
        **overrides,
    }


def files(**overrides) -> list:
    chosen = {
        "business_licence": [("营业执照.pdf", PDF)],
        "financial_licence": [("许可证.png", PNG)],
        "other": [],
        **overrides,
    }
    return [(kind, (name, content)) for kind, items in chosen.items() for name, content in items]


async def apply(client: Client, data: dict | None = None, uploads: list | None = None):
    await client.get("/partners/apply")
    return await client.submit(
        "/partners/apply", data or form(), files=uploads if uploads is not None else files()
    )


async def last_email(template: str) -> str:
    row = (
        await Notification.objects()
        .where((Notification.channel == "email") & (Notification.template == template))
        .order_by(Notification.id, ascending=False)
        .first()
    )
    assert row is not None, template
    return decrypt_field(row.body_encrypted, context=BODY_CONTEXT)


def link_in(body: str, path: str) -> str:
    match = re.search(rf"{path}/([A-Za-z0-9_-]+)", body)
    assert match, body
    return f"{path}/{match.group(1)}"


async def reviewer(client: Client) -> None:
    await factories.user(
        "operator", "inst-reviewer@loanmart.example", "institution_reviewer", None, "机构审核员"
    )
    await login(client, "/admin/login", "inst-reviewer@loanmart.example")


async def test_an_institution_applies_is_reviewed_admitted_and_its_admin_sets_a_password(
    client, staff_client
):
    response = await apply(client)
    assert response.status_code == 303, response.text[:2000]
    assert response.headers["location"].startswith("/partners/apply/sent?ref=JR")
    row = await PartnerApplication.objects().first()
    assert row.status == "submitted"
    # Contact details are ciphertext + mask only.
    assert MOBILE not in row.contact_mobile_encrypted and row.contact_mobile_masked == "138****8000"
    assert EMAIL not in row.contact_email_encrypted
    documents = await PartnerDocument.objects()
    assert sorted(d.media_type for d in documents) == ["application/pdf", "image/png"]
    assert all(str(row.id) in d.storage_key and "张" not in d.storage_key for d in documents)

    status_path = link_in(await last_email("partner.submitted"), "/partners/status")
    page = soup(await client.get(status_path))
    assert "已提交，待审核" in page.get_text()
    assert (await client.get("/partners/status/not-a-real-token")).status_code == 404

    await reviewer(staff_client)
    queue = await staff_client.get("/admin/institutions/applications?status=submitted")
    assert queue.status_code == 200 and "厦门示例银行股份有限公司" in queue.text
    detail = await staff_client.get(f"/admin/institutions/applications/{row.id}")
    assert "138****8000" in detail.text and MOBILE not in detail.text
    shown = await staff_client.get(
        f"/admin/institutions/applications/{row.id}/documents/{documents[0].id}"
    )
    assert shown.status_code == 200 and shown.content in (PDF, PNG)
    assert shown.headers["content-disposition"].startswith("inline")
    assert await AuditEntry.count().where(AuditEntry.action == "partner_document.view") == 1

    # Asking for more needs a note; then the applicant answers through a fresh link.
    response = await staff_client.submit(
        f"/admin/institutions/applications/{row.id}", {"decision": "request_more", "note": ""}
    )
    assert response.status_code == 400
    response = await staff_client.submit(
        f"/admin/institutions/applications/{row.id}",
        {"decision": "request_more", "note": "请补充公司章程"},
    )
    assert response.status_code == 303
    new_status_path = link_in(await last_email("partner.request_more"), "/partners/status")
    assert (await client.get(status_path)).status_code == 404  # the old link is spent
    page = soup(await client.get(new_status_path))
    assert "请补充公司章程" in page.get_text()
    response = await client.submit(
        new_status_path, {"message": "已补充章程"}, files=[("other", ("章程.pdf", PDF))]
    )
    assert response.status_code == 303
    assert (await PartnerApplication.objects().first()).status == "submitted"
    assert await PartnerDocument.count() == 3

    response = await staff_client.submit(
        f"/admin/institutions/applications/{row.id}", {"decision": "approve", "note": ""}
    )
    assert response.status_code == 303, response.text[:2000]
    institution = await Institution.objects().where(Institution.credit_code == CODE).first()
    assert institution.status == "approved" and institution.short_name == "厦门示例银行"
    admin = await User.objects().where(User.login_key == EMAIL).first()
    assert (admin.kind, admin.role, admin.institution) == (
        "staff",
        "institution_admin",
        institution.id,
    )

    password_path = link_in(await last_email("partner.set_password"), "/partners/set-password")
    assert (await client.get(password_path)).status_code == 200
    response = await client.submit(password_path, {"password": "Xiamen2026!", "confirm": "nope"})
    assert response.status_code == 400
    response = await client.submit(
        password_path, {"password": "Xiamen2026!", "confirm": "Xiamen2026!"}
    )
    assert response.status_code == 303
    assert (await client.get(password_path)).status_code == 404  # single use
    await login(client, "/console/login", EMAIL, "Xiamen2026!")
    assert (await client.get("/console/")).status_code == 200


async def test_hostile_applications_get_clear_errors_never_a_500(client):
    cases = {
        "bad check character": (
            form(credit_code="91350100M000100Y44"),
            files(),
            "统一社会信用代码",
        ),
        "arabic-indic digits": (form(contact_mobile="١٣٨٠٠١٣٨٠٠٠"), files(), "手机号"),
        "short mobile": (form(contact_mobile="1380013"), files(), "手机号"),
        "overlong name": (form(company_name="长" * 121), files(), "机构全称"),
        "bad date": (form(licence_expires_on="2026-13-45"), files(), "许可证有效期"),
        "expired licence": (form(licence_expires_on="2020-01-01"), files(), "有效期须晚于今天"),
        "unknown kind": (form(kind="casino"), files(), "机构类型"),
        "bad e-mail": (form(contact_email="not-an-email"), files(), "邮箱"),
        "missing licence file": (form(), files(financial_licence=[]), "金融许可证"),
        "text posing as pdf": (
            form(),
            files(business_licence=[("执照.pdf", b"<script>alert(1)</script>")]),
            "PDF",
        ),
        "oversized file": (
            form(),
            files(business_licence=[("大.pdf", PDF + b"0" * (5 * 1024 * 1024))]),
            "MB",
        ),
    }
    for name, (data, uploads, expected) in cases.items():
        response = await apply(client, data, uploads)
        assert response.status_code == 400, (name, response.status_code)
        assert expected in soup(response).get_text(), name
        # Every typed value comes back (files are asked for again).
        assert data["company_name"][:20] in response.text, name
    assert await PartnerApplication.count() == 0
    # No CSRF token: refused before anything is read.
    response = await client.post("/partners/apply", data=form(), files=files())
    assert response.status_code == 403
    assert await PartnerApplication.count() == 0


async def test_parallel_applications_for_one_code_make_one(app):
    async def one(n: int) -> int:
        transport = httpx.ASGITransport(app=app, client=(f"203.0.113.{n}", 40000 + n))
        async with Client(transport=transport, base_url="http://testserver") as c:
            return (await apply(c)).status_code

    statuses = await asyncio.gather(*(one(n) for n in range(5)))
    assert sorted(statuses) == [303, 400, 400, 400, 400]
    assert await PartnerApplication.count() == 1


async def test_one_address_is_rate_limited(client):
    statuses = []
    for n in range(6):
        first_17 = f"91350100M00010{n}Y4"  # a different institution each time
        data = form(credit_code=first_17 + check_char(first_17))
        statuses.append((await apply(client, data)).status_code)
    assert statuses == [303, 303, 303, 303, 303, 429]


async def test_other_operators_and_other_applications_documents_are_refused(
    app, client, staff_client, world
):
    assert (await apply(client)).status_code == 303
    row = await PartnerApplication.objects().first()
    document = await PartnerDocument.objects().first()
    await login(staff_client, "/admin/login", "reviewer@loanmart.example")  # product reviewer
    assert (await staff_client.get("/admin/institutions/applications")).status_code == 403
    assert (
        await staff_client.get(f"/admin/institutions/applications/{row.id}/documents/{document.id}")
    ).status_code == 403
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 1))
    async with Client(transport=transport, base_url="http://testserver") as other:
        await reviewer(other)
        wrong = await other.get(
            f"/admin/institutions/applications/{row.id + 1}/documents/{document.id}"
        )
        assert wrong.status_code == 404
        huge = await other.get("/admin/institutions/applications/99999999999999999999")
        assert huge.status_code == 404
        decision = await other.submit(
            f"/admin/institutions/applications/{row.id}", {"decision": "explode", "note": "x"}
        )
        assert decision.status_code == 404
    # A visitor does not reach the admin area at all.
    assert (await client.get("/admin/institutions/applications")).status_code in (
        302,
        303,
        401,
        403,
    )


async def test_password_links_expire(client):
    assert (await apply(client)).status_code == 303
    row = await PartnerApplication.objects().first()
    operator = await factories.user(
        "operator", "inst-reviewer@loanmart.example", "institution_reviewer", None, "机构审核员"
    )
    from marketplace.partners.services import decide

    await decide(operator, row.id, "approve", "")
    path = link_in(await last_email("partner.set_password"), "/partners/set-password")
    await AccountPasswordLink.update(
        {AccountPasswordLink.expires_at: AccountPasswordLink.created_at}
    ).where(AccountPasswordLink.id > 0)
    assert (await client.get(path)).status_code == 404
    response = await client.submit(path, {"password": "Xiamen2026!", "confirm": "Xiamen2026!"})
    assert response.status_code == 404


async def test_demo_seeds_a_pending_application_and_an_admitted_institution():
    from marketplace.demo.partners import seed_partners
    from marketplace.storage import get

    await factories.user("operator", "super@loanmart.example", "super_admin", None, "周宁")
    await seed_partners()
    statuses = sorted(
        r["status"] for r in await PartnerApplication.select(PartnerApplication.status)
    )
    assert statuses == ["approved", "submitted"]
    document = await PartnerDocument.objects().first()
    assert (await get(document.storage_key)).startswith(b"%PDF-")
    admitted = await Institution.objects().where(Institution.status == "approved").first()
    assert admitted.short_name == "闽江小贷"


async def test_parallel_approvals_admit_once_and_a_password_link_works_once(app, client):
    from marketplace.errors import InvalidTransition
    from marketplace.inbox.tables import InboxItem
    from marketplace.partners.services import decide

    operator = await factories.user(
        "operator", "inst-reviewer@loanmart.example", "institution_reviewer", None, "机构审核员"
    )
    assert (await apply(client)).status_code == 303
    # The reviewer was told in-site.
    assert await InboxItem.count().where(InboxItem.recipient == operator.user_id) == 1
    row = await PartnerApplication.objects().first()
    results = await asyncio.gather(
        *(decide(operator, row.id, "approve", "") for _ in range(4)), return_exceptions=True
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, InvalidTransition) for r in results if r is not None)
    assert await Institution.count().where(Institution.credit_code == CODE) == 1
    assert await User.count().where(User.login_key == EMAIL) == 1

    path = link_in(await last_email("partner.set_password"), "/partners/set-password")

    async def set_password(n: int) -> int:
        transport = httpx.ASGITransport(app=app, client=(f"203.0.113.{n}", 41000 + n))
        async with Client(transport=transport, base_url="http://testserver") as c:
            return (
                await c.submit(path, {"password": f"Xiamen2026!{n}", "confirm": f"Xiamen2026!{n}"})
            ).status_code

    statuses = await asyncio.gather(*(set_password(n) for n in range(4)))
    assert sorted(statuses) == [303, 404, 404, 404]


async def test_a_lost_password_link_is_resent_until_the_password_is_set(client, staff_client):
    assert (await apply(client)).status_code == 303
    row = await PartnerApplication.objects().first()
    await reviewer(staff_client)
    url = f"/admin/institutions/applications/{row.id}/resend-link"
    assert (await staff_client.submit(url)).status_code == 409  # not approved yet
    await staff_client.submit(
        f"/admin/institutions/applications/{row.id}", {"decision": "approve", "note": ""}
    )
    first = link_in(await last_email("partner.set_password"), "/partners/set-password")
    assert (await staff_client.submit(url)).status_code == 303
    second = link_in(await last_email("partner.set_password"), "/partners/set-password")
    assert first != second
    assert (await client.get(first)).status_code == 404
    response = await client.submit(second, {"password": "Xiamen2026!", "confirm": "Xiamen2026!"})
    assert response.status_code == 303
    assert (await staff_client.submit(url)).status_code == 409  # already set
