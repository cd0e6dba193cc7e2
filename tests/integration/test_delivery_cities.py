"""The delivery settings' multi-city picker (issue #10, cities): every prefecture-level city
by province, ticked without JavaScript, saved as canonical names (杭州 = 杭州市); anything
that is not a city is refused with a localised error and the valid ticks kept."""

from __future__ import annotations

from marketplace.cities import recognised_cities
from marketplace.delivery.tables import DeliverySettings
from tests.fixtures import login, soup
from tests.integration.test_delivery import SETTINGS


def _ticked(page) -> list[str]:
    return [box["value"] for box in page.select("input[name=cities][checked]")]


async def test_cities_are_ticked_by_province_and_saved_canonical(staff_client, world):
    await login(staff_client, "/console/login", "staff@test-bank.example")
    page = soup(await staff_client.get("/console/delivery"))
    picker = page.select_one("fieldset.city-picker")
    assert picker.select_one("legend").text.strip() == "城市"
    provinces = [s.contents[0].strip() for s in picker.select("details > summary")]
    assert "浙江省" in provinces and "北京市" in provinces
    assert picker.select_one("input[type=checkbox][value=杭州市]") is not None
    assert page.select_one("#f-cities") is not None, "the error summary's target"
    assert not picker.select("details[open]") and "未选择城市（不限）" in picker.text

    # Ticked boxes, plus an older client typing the short name: one city, canonical.
    saved = await staff_client.submit(
        "/console/delivery", {**SETTINGS, "cities": ["杭州市", "宁波市", "杭州"]}
    )
    assert saved.status_code == 303
    row = await DeliverySettings.objects().first()
    assert row.cities == ["杭州市", "宁波市"]

    page = soup(await staff_client.get("/console/delivery"))
    assert _ticked(page) == ["杭州市", "宁波市"]
    opened = page.select("fieldset.city-picker details[open]")
    assert [d.select_one("summary").contents[0].strip() for d in opened] == ["浙江省"]
    assert "已选 2" in opened[0].text
    assert "杭州市、宁波市" in page.select_one("#f-cities-chosen").text

    # Unticking every box means "any city".
    cleared = await staff_client.submit("/console/delivery", SETTINGS)
    assert cleared.status_code == 303
    assert (
        await DeliverySettings.objects().order_by(DeliverySettings.id, ascending=False).first()
    ).cities == []


async def test_hostile_cities_are_refused_with_the_valid_ticks_kept(staff_client, world):
    await login(staff_client, "/console/login", "staff@test-bank.example")
    for cities, message in (
        (["北京市", "<script>alert(1)</script>"], "没有找到城市"),
        (["北京市", "北京\x00"], "无法识别的字符"),
        (["北京市", "浦东新区"], "没有找到城市"),
        (["北京市", "城" * 5000], "最多"),
        (["北京市", "'; DROP TABLE x; --"], "没有找到城市"),
        (["北京市", "１２３"], "没有找到城市"),
        (["北京市", *[f"城{i}" for i in range(60)]], "最多"),
    ):
        response = await staff_client.submit("/console/delivery", {**SETTINGS, "cities": cities})
        assert response.status_code == 400, (cities[1][:20], response.status_code)
        page = soup(response)
        assert message in page.select_one(".error-summary").text, cities[1][:20]
        assert page.select_one(".error-summary a[href='#f-cities']") is not None
        assert _ticked(page) == ["北京市"], "the valid tick is kept"
        assert "<script>alert(1)</script>" not in response.text
    # Every city there is, more than the 50 allowed.
    every = [box["value"] for box in page.select("input[name=cities]")]
    response = await staff_client.submit("/console/delivery", {**SETTINGS, "cities": every})
    assert response.status_code == 400 and "最多50项" in response.text
    assert await DeliverySettings.count() == 0


def test_recognised_cities_keeps_only_known_names_once():
    assert recognised_cities(["杭州", "杭州市", "<b>", "宁波"]) == ["杭州市", "宁波市"]
    assert recognised_cities("北京，上海、不存在") == ["北京市", "上海市"]
    assert recognised_cities(None) == []
    assert recognised_cities(["城" * 100000]) == []


async def test_product_cities_are_ticked_saved_canonical_and_kept_on_refusal(client, world):
    from marketplace.products.tables import Product
    from tests.factories import PRODUCT_FORM

    await login(client, "/console/login", "staff@test-bank.example")
    blank = soup(await client.get("/console/products/new"))
    assert blank.select_one("fieldset.city-picker input[value=恩施土家族苗族自治州]") is not None
    refused = await client.submit(
        "/console/products/new", {**PRODUCT_FORM, "cities": ["杭州", "<img src=x>"]}
    )
    assert refused.status_code == 400
    page = soup(refused)
    assert page.select_one("#f-cities").get("aria-invalid") == "true"
    assert _ticked(page) == ["杭州市"]
    assert page.select_one("#f-name")["value"] == PRODUCT_FORM["name"]
    assert "<img src=x>" not in refused.text and await Product.count() == 0

    saved = await client.submit(
        "/console/products/new", {**PRODUCT_FORM, "cities": ["杭州", "恩施州", "杭州市"]}
    )
    assert saved.status_code == 303
    product = await Product.objects().first()
    assert product.cities == ["杭州市", "恩施土家族苗族自治州"]
    edit = soup(await client.get(f"/console/products/{product.id}/edit"))
    assert _ticked(edit) == ["杭州市", "恩施土家族苗族自治州"]
    opened = [d.select_one("summary").contents[0].strip() for d in edit.select("details[open]")]
    assert opened == ["湖北省", "浙江省"] or sorted(opened) == ["浙江省", "湖北省"]
