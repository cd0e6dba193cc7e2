"""One application to many (issue #10, P5): the saved profile (prefilled, editable, with
contact fields), the loan purpose, and one submission to several products with one
consent per institution."""

from __future__ import annotations

import asyncio
import json

import pytest

from marketplace import jobs
from marketplace.accounts.tables import BorrowerProfile
from marketplace.applications.services import SHARED_DATA_CONTEXT
from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.consents.tables import Consent
from marketplace.parameters.tables import SystemParameter
from marketplace.security import decrypt_field
from tests.factories import application_form, listed_product, user, valid_id_number
from tests.fixtures import apply_form_secrets, login, soup

CONTACT = {
    "address": "浙江省杭州市西湖区文三路 90 号 5 幢 301 室",
    "contact_name": "李秀英",
    "contact_relation": "spouse",
    "contact_mobile": "137 0013 7000",
}


async def _three_products(world) -> tuple[int, int, int]:
    """Two products of the test bank and one of the other bank."""
    first = await listed_product(world.staff, world.operator, name="安居装修贷")
    second = await listed_product(world.staff, world.operator, name="工薪快贷")
    third = await listed_product(world.other_staff, world.operator, name="别家信用贷")
    return first, second, third


async def _batch_page(client, *product_ids: int, query: str = ""):
    url = "/apply?" + "&".join(f"products={i}" for i in product_ids) + query
    response = await client.get(url)
    assert response.status_code == 200, response.text[-2000:]
    return soup(response)


def _batch_form(page, **overrides: object) -> dict[str, object]:
    """What a browser sends from the multi-product page, with every box ticked."""
    form: dict[str, object] = {
        **application_form(),
        "submission_key": page.select_one("input[name=submission_key]")["value"],
        "products": [i["value"] for i in page.select("input[name=products][checked]")],
        "batch": [i["value"] for i in page.select("input[name=batch]")],
    }
    for select in page.select("select[name^=method_]"):
        form[select["name"]] = "equal_installment"
    for notice in page.select("input[name^=notice_]"):
        form[notice["name"]] = notice["value"]
        form["consent_" + notice["name"].removeprefix("notice_")] = "yes"
    for key in ("consent", "repayment_method"):
        form.pop(key)
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


async def _post(client, form: dict[str, object]):
    return await client.submit("/apply", form)


async def _choose(client, page, *product_ids: int):
    """Tick other products and check again (no JavaScript): the page that comes back."""
    response = await _post(
        client, _batch_form(page, intent="check", products=[str(i) for i in product_ids])
    )
    assert response.status_code == 200
    return soup(response)


# The batch -----------------------------------------------------------------------------


async def test_three_products_of_two_institutions_in_one_submission(client, world):
    first, second, third = await _three_products(world)
    await login(client, "/login", world.borrower_mobile)
    page = await _batch_page(client, first, second, third)
    consents = page.select("input[name^=consent_]")
    assert len(consents) == 2, "one consent box per institution"
    assert not any(box.has_attr("checked") for box in consents), "never pre-ticked"
    bank_notice = page.select_one(f"#institution-{world.bank_id}").find_parent("section")
    assert "安居装修贷、工薪快贷" in bank_notice.select_one(".consent__text").get_text()

    response = await _post(client, _batch_form(page, **CONTACT))
    assert response.status_code == 303, response.text[-3000:]
    rows = await Application.select().order_by(Application.id)
    assert [row["product"] for row in rows] == [first, second, third]
    assert len({row["reference"] for row in rows}) == 3
    assert {row["purpose"] for row in rows} == {"daily"}
    granted = await Consent.select().order_by(Consent.id)
    assert [c["institution"] for c in granted] == [world.bank_id, world.other_bank_id]
    by_institution = {c["institution"]: c["id"] for c in granted}
    assert [row["consent"] for row in rows] == [
        by_institution[world.bank_id],
        by_institution[world.bank_id],
        by_institution[world.other_bank_id],
    ]
    # Each has its own timeline and its own delivery job.
    for row in rows:
        detail = await client.get(f"/me/applications/{row['reference']}")
        assert detail.status_code == 200
        assert "借款用途" in detail.text and "日常消费" in detail.text
    await jobs.run_until_idle()
    delivered = await Application.select(Application.status)
    assert {row["status"] for row in delivered} == {"delivered"}
    shared = json.loads(
        decrypt_field(rows[2]["shared_data_encrypted"], context=SHARED_DATA_CONTEXT)
    )
    assert shared["contact_mobile"] == "13700137000" and shared["contact_relation"] == "spouse"
    # The consent ledger rebuilds the notice the borrower saw, naming both products.
    notice = await client.get(f"/me/consents/notices/{by_institution[world.bank_id]}")
    assert notice.status_code == 200 and "安居装修贷、工薪快贷" in notice.text
    assert "此文本与您同意时记录的摘要一致" in notice.text


async def test_one_missing_consent_is_an_error_on_that_institution_and_keeps_the_form(
    client, world
):
    first, second, third = await _three_products(world)
    await login(client, "/login", world.borrower_mobile)
    page = await _batch_page(client, first, second, third)
    form = _batch_form(page, real_name="李娜", **CONTACT)
    form.pop(f"consent_{world.other_bank_id}")
    response = await _post(client, form)
    assert response.status_code == 400
    again = soup(response)
    error = again.select_one(f"#f-consent_{world.other_bank_id}-error")
    assert error is not None and "别家银行" in error.get_text()
    assert again.select_one(f"#f-consent_{world.bank_id}-error") is None
    assert again.select_one(f"input[name=consent_{world.bank_id}]").has_attr("checked")
    assert again.select_one("input[name=real_name]")["value"] == "李娜"
    assert again.select_one("input[name=address]")["value"] == CONTACT["address"]
    assert len(again.select("input[name=products][checked]")) == 3
    assert await Application.count() == 0 and await Consent.count() == 0


async def test_eligibility_is_checked_per_product_before_submitting(client, world):
    covers_beijing = await listed_product(world.staff, world.operator, name="北京贷")
    hangzhou_only = await listed_product(
        world.other_staff, world.operator, name="杭州贷", cities="杭州", min_monthly_income="20000"
    )
    await login(client, "/login", world.borrower_mobile)
    await client.submit("/me/profile/edit", application_form(city="北京"))
    page = await _batch_page(client, covers_beijing, hangzhou_only, query="&amount=50000")
    ok = page.select_one(f"#product-{covers_beijing}")
    refused = page.select_one(f"#product-{hangzhou_only}")
    assert "符合申请条件" in ok.get_text()
    reasons = refused.select_one(f"#reasons-{hangzhou_only}").get_text()
    assert "该产品暂不覆盖您所在的城市：杭州" in reasons
    assert "该产品要求月收入不低于20,000元" in reasons
    assert ok.select_one("input[name=products]").has_attr("checked")
    assert not refused.select_one("input[name=products]").has_attr("checked")

    # Rechecking with other values sends nothing and says it again.
    form = _batch_form(page, intent="check", amount="500000")
    checked = await _post(client, form)
    assert checked.status_code == 200
    assert (
        "该产品额度为10,000至200,000元"
        in soup(checked).select_one(f"#product-{covers_beijing}").get_text()
    )
    assert await Application.count() == 0

    # Submitting a refused product anyway: its reasons, nothing sent.
    refused_post = await _post(
        client, _batch_form(page, products=[str(covers_beijing), str(hangzhou_only)])
    )
    assert refused_post.status_code == 400
    assert (
        "该产品暂不覆盖您所在的城市"
        in soup(refused_post).select_one(f"#product-{hangzhou_only}").get_text()
    )
    assert await Application.count() == 0

    # Unticking it sends the other one alone.
    sent = await _post(client, _batch_form(page))
    assert sent.status_code == 303
    assert [row["product"] for row in await Application.select(Application.product)] == [
        covers_beijing
    ]


async def test_more_products_than_the_parameter_allows_are_refused(client, world):
    await SystemParameter.insert(SystemParameter(key="products_per_batch", value="2"))
    first, second, third = await _three_products(world)
    await login(client, "/login", world.borrower_mobile)
    page = await _batch_page(client, first, second, third)
    assert "一次最多申请 2 个产品" in page.get_text()
    assert len(page.select("input[name=products]")) == 2
    form = _batch_form(page, products=[str(first), str(second), str(third)])
    response = await _post(client, form)
    assert response.status_code == 400
    assert "一次最多申请2个产品" in response.text
    assert await Application.count() == 0
    # A consent, once the selection changes, is asked again for the notice now shown.
    changed = soup(await _post(client, _batch_form(page, products=[str(first)])))
    assert "同意书内容已变化" in changed.select_one(f"#f-consent_{world.bank_id}-error").get_text()
    assert not changed.select_one(f"input[name=consent_{world.bank_id}]").has_attr("checked")
    assert "“安居装修贷”" in changed.select_one(".consent__text").get_text()
    assert await Application.count() == 0


async def test_the_institutions_cap_counts_the_batch_as_a_whole(client, world):
    await SystemParameter.insert(SystemParameter(key="institutions_per_application", value="1"))
    first, second, third = await _three_products(world)
    await login(client, "/login", world.borrower_mobile)
    page = await _batch_page(client, first, second, third)
    response = await _post(client, _batch_form(page))
    assert response.status_code == 400
    assert "最多提供给1家机构" in response.text
    assert await Application.count() == 0
    # Two products of one institution are one institution.
    sent = await _post(client, _batch_form(await _choose(client, page, first, second)))
    assert sent.status_code == 303
    assert await Application.count() == 2


async def test_cooling_off_counts_every_application_of_the_batch(client, world):
    await SystemParameter.insert(SystemParameter(key="cooling_off_applications", value="2"))
    first, second, third = await _three_products(world)
    await login(client, "/login", world.borrower_mobile)
    page = await _batch_page(client, first, second, third)
    response = await _post(client, _batch_form(page))
    assert response.status_code == 400
    assert "您现在最多还能选择2个产品" in response.text
    assert await Application.count() == 0
    sent = await _post(client, _batch_form(await _choose(client, page, first, third)))
    assert sent.status_code == 303, soup(sent).select(".banner, .field__error")
    refused = await _post(
        client,
        _batch_form(await _choose(client, page, second), submission_key="s" * 24),
    )
    assert refused.status_code == 429
    assert await Application.count() == 2


async def test_the_same_batch_posted_twice_in_parallel_makes_one_set(client, world):
    first, second, third = await _three_products(world)
    await login(client, "/login", world.borrower_mobile)
    page = await _batch_page(client, first, second, third)
    form = _batch_form(page)
    responses = await asyncio.gather(*(_post(client, form) for _ in range(4)))
    assert [r.status_code for r in responses] == [303] * 4
    assert await Application.count() == 3
    assert await Consent.count() == 2
    # And again later: still the same three.
    assert (await _post(client, form)).status_code == 303
    assert await Application.count() == 3


async def test_a_duplicate_within_the_window_names_its_product(client, world):
    first, second, third = await _three_products(world)
    await login(client, "/login", world.borrower_mobile)
    hidden = await apply_form_secrets(client, second)
    assert (
        await client.submit(f"/products/{second}/apply", application_form(**hidden))
    ).status_code == 303
    page = await _batch_page(client, first, second, third)
    response = await _post(client, _batch_form(page))
    assert response.status_code == 400
    block = soup(response).select_one(f"#product-{second}")
    assert "您已申请过该产品" in block.get_text()
    assert await Application.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("purpose", "", "请选择借款用途"),
        ("purpose", "house_purchase", "请选择借款用途"),
        ("purpose", "x" * 10_000, "请选择借款用途"),
        ("purpose", "<script>alert(1)</script>", "请选择借款用途"),
        ("address", "路" * 101, "联系地址最多100个字"),
        ("address", "文三路\x00", "联系地址含有无法识别的字符"),
        ("contact_name", "李" * 40, "紧急联系人姓名最多30个字"),
        ("contact_name", "<b>王</b>", "姓名只能包含汉字"),
        ("contact_relation", "boss", "请选择紧急联系人与您的关系"),
        ("contact_mobile", "1380013800", "请输入正确的11位手机号码"),
        ("contact_mobile", "１" * 5000, "请输入正确的11位手机号码"),
        ("contact_mobile", "12800138000", "请输入正确的11位手机号码"),
        ("contact_mobile", "13800138000'; DROP TABLE app_user;--", "请输入正确的11位手机号码"),
        ("amount", "-5", "借款金额"),
        ("amount", "1e9", "借款金额"),
    ],
)
async def test_hostile_values_on_the_new_fields_are_clear_errors(
    client, world, field, value, message
):
    first, _second, third = await _three_products(world)
    await login(client, "/login", world.borrower_mobile)
    page = await _batch_page(client, first, third)
    form = _batch_form(page, **{**CONTACT, field: value, "real_name": "李娜"})
    response = await _post(client, form)
    assert response.status_code == 400, response.text[-2000:]
    again = soup(response)
    error = again.select_one(f"#f-{field}-error")
    assert error is not None and message in error.get_text(), again.select(".field__error")
    assert again.select_one("input[name=real_name]")["value"] == "李娜"
    assert "<script>alert" not in response.text and "<b>王" not in response.text
    assert await Application.count() == 0
    # The single-product form applies the same rules.
    hidden = await apply_form_secrets(client, first)
    single = await client.submit(
        f"/products/{first}/apply", application_form(**hidden, **{**CONTACT, field: value})
    )
    assert single.status_code == 400
    assert message in soup(single).select_one(f"#f-{field}-error").get_text()


@pytest.mark.parametrize(
    "products", ["abc", "-1", "0", "99999999999999999999", "1" * 5000, "１", ""]
)
async def test_malformed_product_lists_never_fail(client, world, products):
    await login(client, "/login", world.borrower_mobile)
    page = await client.get(f"/apply?products={products}")
    assert page.status_code == 200
    assert "还没有选择产品" in page.text
    posted = await client.submit("/apply", {**application_form(), "products": products})
    assert posted.status_code == 400
    assert await Application.count() == 0


async def test_an_unlisted_or_unknown_product_is_not_applied_to(client, world):
    first, _second, _third = await _three_products(world)
    await login(client, "/login", world.borrower_mobile)
    page = await _batch_page(client, first, 987654)
    assert "有 1 个所选产品已下架或不存在" in page.get_text()
    response = await _post(client, _batch_form(page, products=[str(first), "987654"]))
    assert response.status_code == 400
    assert await Application.count() == 0


async def test_the_batch_needs_a_signed_in_borrower(client, world):
    first, _second, _third = await _three_products(world)
    anonymous = await client.get(f"/apply?products={first}")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    await login(client, "/console/login", "staff@test-bank.example")
    assert (await client.get(f"/apply?products={first}")).status_code in (302, 303, 403, 404)


async def test_the_lead_shows_purpose_and_masked_contact(client, staff_client, world):
    first, _second, _third = await _three_products(world)
    await login(client, "/login", world.borrower_mobile)
    page = await _batch_page(client, first)
    assert (await _post(client, _batch_form(page, purpose="medical", **CONTACT))).status_code == 303
    await jobs.run_until_idle()
    application = await Application.objects().first()
    await login(staff_client, "/console/login", "staff@test-bank.example")
    lead = await staff_client.get(f"/console/leads/{application.id}")
    assert lead.status_code == 200
    text = soup(lead).get_text()
    assert "医疗" in text
    assert "浙江省杭州市****" in text and "文三路" not in text
    assert "李**（配偶）" in text and "李秀英" not in text
    assert "137****7000" in text and "13700137000" not in text


# The saved profile ---------------------------------------------------------------------


async def test_the_profile_is_edited_masked_and_prefills_both_forms(client, world):
    first, _second, third = await _three_products(world)
    await login(client, "/login", world.borrower_mobile)
    empty = await client.get("/me/profile")
    assert "还没有申请资料" in empty.text
    me = soup(await client.get("/me"))
    assert me.select_one("a[href='/me/profile']") is not None

    saved = await client.submit(
        "/me/profile/edit",
        {**application_form(real_name="赵敏", monthly_income="18000"), **CONTACT},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/me/profile"
    shown = soup(await client.get("/me/profile")).get_text()
    assert "赵*" in shown and "赵敏" not in shown
    assert valid_id_number() not in shown and "110***********" in shown
    assert "浙江省杭州市****" in shown and "137****7000" in shown
    row = await BorrowerProfile.objects().first()
    assert "文三路" not in row.address_encrypted and row.contact_relation == "spouse"
    audit = await AuditEntry.select().where(AuditEntry.action == "profile.update")
    assert len(audit) == 1 and "文三路" not in json.dumps(audit[0], default=str)

    for url in (f"/products/{first}/apply", f"/apply?products={first}&products={third}"):
        form = soup(await client.get(url))
        assert form.select_one("input[name=real_name]")["value"] == "赵敏"
        assert form.select_one("input[name=id_number]")["value"] == valid_id_number()
        assert form.select_one("input[name=monthly_income]")["value"].startswith("18000")
        assert form.select_one("input[name=contact_mobile]")["value"] == "13700137000"
        assert (
            form.select_one("select[name=contact_relation] option[selected]")["value"] == "spouse"
        )
        assert form.select_one("input[name=address]")["value"] == CONTACT["address"]
        assert valid_id_number() not in form.select_one("form")["action"]

    edit = soup(await client.get("/me/profile/edit"))
    assert edit.select_one("input[name=real_name]")["value"] == "赵敏"


async def test_a_profile_edit_refuses_bad_values_and_keeps_them(client, world):
    await login(client, "/login", world.borrower_mobile)
    response = await client.submit(
        "/me/profile/edit",
        {**application_form(city="火星", employment_type=""), **CONTACT, "contact_mobile": "12"},
    )
    assert response.status_code == 400
    page = soup(response)
    for field in ("city", "employment_type", "contact_mobile"):
        assert page.select_one(f"#f-{field}-error") is not None
    assert page.select_one("input[name=city]")["value"] == "火星"
    assert page.select_one("input[name=contact_mobile]")["value"] == "12"
    assert await BorrowerProfile.count() == 0


async def test_a_half_given_emergency_contact_is_refused(client, world):
    await login(client, "/login", world.borrower_mobile)
    response = await client.submit(
        "/me/profile/edit", {**application_form(), "contact_name": "李秀英"}
    )
    assert response.status_code == 400
    page = soup(response)
    assert page.select_one("#f-contact_relation-error") is not None
    assert page.select_one("#f-contact_mobile-error") is not None


async def test_no_other_borrowers_profile_leaks(client, world):
    first, _second, _third = await _three_products(world)
    await login(client, "/login", world.borrower_mobile)
    assert (
        await client.submit("/me/profile/edit", {**application_form(real_name="赵敏"), **CONTACT})
    ).status_code == 303
    client.cookies.clear()
    await user("borrower", "13800001111", "borrower", None, "陈晨")
    await login(client, "/login", "13800001111")
    for url in (
        "/me/profile",
        "/me/profile/edit",
        f"/products/{first}/apply",
        f"/apply?products={first}",
    ):
        response = await client.get(url)
        assert response.status_code == 200
        for secret in (
            "赵敏",
            "赵*",
            valid_id_number(),
            "13700137000",
            "137****7000",
            "文三路",
            "浙江省杭州市",
        ):
            assert secret not in response.text, (url, secret)
