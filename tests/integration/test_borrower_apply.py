"""The apply form (issue #10): cities by one list, employment chosen, `next` kept through
registration, and the over-indebtedness guard (§6.6)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from marketplace import jobs
from marketplace.accounts.tables import BorrowerProfile
from marketplace.applications.tables import Application
from marketplace.delivery.services import parse_limits, save_delivery_settings
from marketplace.delivery.tables import DeliverySettings
from marketplace.loancalc import today_shanghai
from marketplace.notifications.tables import Notification
from marketplace.parameters.tables import SystemParameter
from marketplace.products.tables import Product
from marketplace.security import decrypt_field
from tests.factories import application_form, application_in, listed_product, user
from tests.fixtures import apply_form_secrets, login, soup
from tests.loan_factories import disbursed_loan


async def _apply(client, product_id: int, **fields: str):
    hidden = await apply_form_secrets(client, product_id)
    return await client.submit(
        f"/products/{product_id}/apply", application_form(**hidden, **fields)
    )


async def _parameter(key: str, value: str) -> None:
    await SystemParameter.insert(SystemParameter(key=key, value=value))


async def _product_for_cities(world, *cities: str) -> int:
    """A product whose stored city list is exactly `cities`, as rows written before the
    city list say it (杭州, not 杭州市)."""
    product_id = await listed_product(world.staff, world.operator)
    await Product.update({Product.cities: list(cities)}).where(Product.id == product_id)
    return product_id


# Cities -------------------------------------------------------------------------------


async def test_an_applicant_in_hangzhou_shi_passes_a_product_covering_hangzhou(client, world):
    product_id = await _product_for_cities(world, "杭州", "宁波")
    await login(client, "/login", world.borrower_mobile)
    page = soup(await client.get(f"/products/{product_id}/apply"))
    city = page.select_one("input[name=city]")
    assert city["list"] == "city-options"
    options = {o["value"]: o["label"] for o in page.select("datalist#city-options option")}
    assert options["杭州市"] == "浙江省" and options["恩施土家族苗族自治州"] == "湖北省"

    response = await _apply(client, product_id, city="杭州市")
    assert response.status_code == 303, response.text[-3000:]
    application = await Application.objects().first()
    assert application.city == "杭州市"
    profile = await BorrowerProfile.objects().first()
    assert profile.city == "杭州市", "a stored city is the canonical full name"


async def test_a_short_name_is_stored_by_its_canonical_name(client, world):
    product_id = await listed_product(world.staff, world.operator, cities="恩施土家族苗族自治州")
    assert (await Product.objects().get(Product.id == product_id)).cities == [
        "恩施土家族苗族自治州"
    ]
    await login(client, "/login", world.borrower_mobile)
    response = await _apply(client, product_id, city="恩施州")
    assert response.status_code == 303
    assert (await Application.objects().first()).city == "恩施土家族苗族自治州"


async def test_a_city_outside_the_product_is_still_refused(client, world):
    product_id = await _product_for_cities(world, "杭州")
    await login(client, "/login", world.borrower_mobile)
    response = await _apply(client, product_id, city="宁波")
    assert response.status_code == 400
    assert "该产品暂不覆盖您所在的城市" in response.text
    assert await Application.count() == 0


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("火星", "没有找到城市“火星”"),
        ("吉林", "吉林市"),
        ("", "请填写所在城市"),
        ("杭州\x00", "请从列表中选择"),
        ("杭" * 20_000, "请从列表中选择"),
        ("杭州😀", "没有找到城市"),
        ("<script>alert(1)</script>", "没有找到城市"),
    ],
)
async def test_an_unknown_or_hostile_city_is_a_clear_error_with_the_form_kept(
    client, world, typed, message
):
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    response = await _apply(client, product_id, city=typed, real_name="李娜")
    assert response.status_code == 400
    page = soup(response)
    error = page.select_one("#f-city-error")
    assert error is not None and message in error.get_text()
    assert page.select_one("input[name=real_name]")["value"] == "李娜"
    assert "<script>alert" not in response.text
    assert await Application.count() == 0


async def test_delivery_rules_with_short_names_admit_the_full_name(client, world):
    await save_delivery_settings(world.staff, parse_limits({"cities": "杭州"}))
    row = await DeliverySettings.objects().get(DeliverySettings.institution == world.bank_id)
    assert row.cities == ["杭州市"], "saved by the canonical name"
    # A rule written before the list, in the short form, still admits 杭州市.
    await DeliverySettings.update({DeliverySettings.cities: ["杭州"]}).where(
        DeliverySettings.id == row.id
    )
    product_id = await listed_product(world.staff, world.operator, cities="")
    await login(client, "/login", world.borrower_mobile)
    assert (await _apply(client, product_id, city="杭州市")).status_code == 303
    refused = await _apply(client, await listed_product(world.staff, world.operator, cities=""))
    assert refused.status_code == 400 and "所在城市须为 杭州" in refused.text


async def test_the_lead_desk_filter_matches_every_spelling(client, world):
    ids = {}
    for city in ("杭州", "杭州市", "宁波市"):
        ids[city] = await application_in(world, "delivered")
        await Application.update({Application.city: city}).where(Application.id == ids[city])
    await login(client, "/console/login", "staff@test-bank.example")
    for typed in ("杭州", "杭州市", "浙江杭州"):
        page = await client.get("/console/leads", params={"city": typed})
        shown = {int(tr["data-lead"]) for tr in soup(page).select("#lead-rows tbody tr")}
        assert shown == {ids["杭州"], ids["杭州市"]}, typed
        assert soup(page).select_one("#f-city")["value"] == "杭州市"


async def test_the_product_filter_finds_every_spelling(client, world):
    product_id = await listed_product(world.staff, world.operator, name="杭州专享贷")
    # Written before the city list, in the short form; indexed afterwards.
    await Product.update({Product.cities: ["杭州"]}).where(Product.id == product_id)
    await jobs.run_until_idle()
    for typed, found in (("杭州", True), ("杭州市", True), ("浙江杭州", True), ("宁波", False)):
        page = soup(await client.get("/products", params={"city": typed}))
        names = [a.get_text(strip=True) for a in page.select(".product-card__name a")]
        assert ("杭州专享贷" in names) is found, (typed, names)
    assert page.select_one("input[name=city]")["list"] == "city-options"


# Employment type -----------------------------------------------------------------------


async def test_employment_type_must_be_chosen(client, world):
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    page = soup(await client.get(f"/products/{product_id}/apply"))
    select = page.select_one("select[name=employment_type]")
    assert select.has_attr("required")
    placeholder = select.select_one("option[selected]")
    assert placeholder["value"] == "" and "请选择" in placeholder.get_text()

    for missing in ("", "astronaut", "employee\x00"):
        response = await _apply(client, product_id, employment_type=missing, city="杭州")
        assert response.status_code == 400
        form = soup(response)
        assert "请选择您的职业类型" in form.select_one("#f-employment_type-error").get_text()
        assert form.select_one("input[name=city]")["value"] == "杭州"
        assert form.select_one("input[name=real_name]")["value"] == "张伟"
    assert await Application.count() == 0


# Registration keeps `next` --------------------------------------------------------------


async def _last_sms_code() -> str:
    from marketplace.notifications.services import BODY_CONTEXT

    row = await Notification.objects().order_by(Notification.id, ascending=False).first()
    return re.search(r"\d{6}", decrypt_field(row.body_encrypted, context=BODY_CONTEXT)).group()


async def _register(client, next_url: str, mobile: str):
    page = soup(await client.get("/register", params={"next": next_url}))
    kept = page.select_one("input[name=next]")
    sent = await client.submit(
        "/register",
        {"action": "send_code", "mobile": mobile, "next": kept["value"] if kept else ""},
    )
    assert sent.status_code == 200
    after_code = soup(sent).select_one("input[name=next]")
    return (
        await client.submit(
            "/register",
            {
                "action": "register",
                "mobile": mobile,
                "code": await _last_sms_code(),
                "password": "abc12345",
                "password_confirm": "abc12345",
                "next": after_code["value"] if after_code else "",
            },
        ),
        kept,
        after_code,
    )


async def test_registration_goes_back_to_where_the_borrower_was_going(client, world):
    product_id = await listed_product(world.staff, world.operator)
    target = f"/products/{product_id}/apply?amount=20000&term=12"
    # Signed out, the apply form sends the visitor to sign in, which links to registering.
    bounced = await client.get(f"/products/{product_id}/apply")
    assert bounced.status_code == 303
    login_page = soup(await client.get(bounced.headers["location"]))
    register_link = login_page.find("a", string="手机号注册")["href"]
    assert "next=" in register_link

    response, kept, after_code = await _register(client, target, "13900003333")
    assert kept["value"] == after_code["value"] == target, "kept through the SMS code step"
    assert response.status_code == 303
    assert response.headers["location"] == target
    form = await client.get(target)
    assert form.status_code == 200 and soup(form).select_one("input[name=amount]")["value"] == (
        "20000"
    )


@pytest.mark.parametrize(
    "hostile", ["//evil.com", "https://evil", "/\\evil", "javascript:alert(1)", "/\t/evil.com"]
)
async def test_registration_never_sends_anyone_off_site(client, hostile):
    response, kept, after_code = await _register(client, hostile, "13900004444")
    assert kept is None and after_code is None
    assert response.status_code == 303 and response.headers["location"] == "/"
    # Posted directly, the value is vetted as well.
    direct = await client.submit(
        "/register", {"action": "send_code", "mobile": "1", "next": hostile}
    )
    assert "evil" not in str(soup(direct).select_one("input[name=next]"))


# Over-indebtedness guard ----------------------------------------------------------------


async def test_a_heavy_repayment_burden_is_shown_and_may_be_acknowledged(client, world):
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    # 50,000 over 12 months is about 4,330 a month: over half of 6,000.
    warned = await _apply(client, product_id, monthly_income="6000", city="杭州")
    assert warned.status_code == 400
    page = soup(warned)
    warning = page.select_one("#debt-warning")
    assert warning is not None and "还款负担" in warning.get_text()
    assert "超过建议的 50%" in warning.get_text()
    assert page.select_one("input[name=debt_warning_read]") is not None
    assert page.select_one("input[name=monthly_income]")["value"] == "6000"
    assert page.select_one("input[name=city]")["value"] == "杭州"
    assert await Application.count() == 0

    hidden = {
        name: page.select_one(f"input[name={name}]")["value"]
        for name in ("notice_digest", "submission_key")
    }
    sent = await client.submit(
        f"/products/{product_id}/apply",
        application_form(**hidden, monthly_income="6000", debt_warning_read="yes"),
    )
    assert sent.status_code == 303
    assert await Application.count() == 1


async def test_active_loans_here_count_towards_the_burden(client, world):
    # 12,000 a month alone carries 50,000 over 12 months (about 36%) …
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden = await apply_form_secrets(client, product_id)
    # … but not with a loan here that costs about 2,600 a month on top.
    await disbursed_loan(world, today_shanghai() - timedelta(days=10), "30000", 12)
    warned = await client.submit(
        f"/products/{product_id}/apply", application_form(**hidden, monthly_income="12000")
    )
    assert warned.status_code == 400
    text = soup(warned).select_one("#debt-warning").get_text()
    assert re.search(r"其他借款约 2,[5-7]\d\d\.\d\d 元", text), text


async def test_modest_borrowing_is_not_warned(client, world):
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    response = await _apply(client, product_id, monthly_income="12000", amount="20000")
    assert response.status_code == 303


async def test_cooling_off_after_n_applications_in_m_days(client, world):
    await _parameter("cooling_off_applications", "2")
    await _parameter("cooling_off_days", "3")
    await login(client, "/login", world.borrower_mobile)
    for _ in range(2):
        product_id = await listed_product(world.staff, world.operator)
        assert (await _apply(client, product_id)).status_code == 303
    product_id = await listed_product(world.staff, world.operator)
    form = soup(await client.get(f"/products/{product_id}/apply"))
    assert "冷静期" in form.get_text(), "said before anything is typed"

    refused = await _apply(client, product_id, real_name="李娜")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    ends = today_shanghai() + timedelta(days=3)
    text = soup(refused).get_text()
    assert "3天内已提交2次申请" in text and ends.isoformat() in text
    assert soup(refused).select_one("input[name=real_name]")["value"] == "李娜"
    assert await Application.count() == 2


async def test_the_guard_parameters_refuse_a_malformed_value(world):
    from marketplace.errors import DomainError
    from marketplace.parameters.services import change_parameter, get_parameters

    superuser = await user("operator", "super@loanmart.example", "super_admin", None, "超管")
    for bad in ("abc", "-1", "NaN", "1e999"):
        with pytest.raises(DomainError):
            await change_parameter(superuser, "dti_warning_ratio", bad)
    await change_parameter(superuser, "dti_warning_ratio", "0.4")
    assert (await get_parameters("dti_warning_ratio"))["dti_warning_ratio"] == "0.4"
