"""Demo onboarding: one partner application waiting for review (with a small PDF), and one
institution already admitted and awaiting its agreement — both through the partners verbs,
so documents, e-mails and audit rows are real."""

from __future__ import annotations

from datetime import timedelta

from marketplace.accounts.services import visitor
from marketplace.demo.decisions import _actor
from marketplace.files import UploadedFile
from marketplace.partners.credit_code import check_char
from marketplace.partners.services import decide, parse_partner_form, submit_partner_application
from marketplace.partners.tables import PartnerApplication
from marketplace.security import today_in_china

# A one-page PDF with the words "Business licence (demo)".
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 120]/Contents 4 0 R"
    b"/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
    b"4 0 obj<</Length 52>>stream\nBT /F1 14 Tf 20 60 Td (Business licence \\(demo\\)) Tj ET\n"
    b"endstream endobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)

APPLICANTS = (
    # (short name, company, first 17 of the credit code, contact e-mail, approve?)
    ("海峡消费金融", "海峡消费金融有限公司", "91350200MA2YQ8X1K", "apply@haixia-cf.example", False),
    (
        "闽江小贷",
        "福州闽江小额贷款有限公司",
        "91350100MA2Y7FDL3",
        "apply@minjiang-loan.example",
        True,
    ),
)


async def seed_partners() -> None:
    reviewer = await _actor("super@loanmart.example")
    expires = (today_in_china() + timedelta(days=400)).isoformat()
    for n, (short_name, company, first_17, email, approve) in enumerate(APPLICANTS):
        code = first_17 + check_char(first_17)
        data = parse_partner_form(
            {
                "company_name": company,
                "short_name": short_name,
                "credit_code": code,
                "kind": "consumer_finance" if n == 0 else "microloan",
                "city": "厦门" if n == 0 else "福州",
                "business_licence_no": code,
                "licence_type": "金融许可证" if n == 0 else "小额贷款业务经营许可证",
                "licence_no": f"DEMO-LIC-{n + 1:04d}",
                "licence_issuer": "国家金融监督管理总局福建监管局",
                "licence_expires_on": expires,
                "contact_name": "陈静" if n == 0 else "林海",
                "contact_mobile": f"1380000{n + 1:04d}",
                "contact_email": email,
            }
        )
        files = {
            "business_licence": [UploadedFile("营业执照.pdf", DEMO_PDF)],
            "financial_licence": [UploadedFile("金融许可证.pdf", DEMO_PDF)],
        }
        reference = await submit_partner_application(visitor("127.0.0.1"), data, files)
        if approve and reviewer is not None:
            row = await PartnerApplication.select(PartnerApplication.id).where(
                PartnerApplication.reference == reference
            )
            await decide(reviewer, row[0]["id"], "approve", "材料齐全，准予入驻")
