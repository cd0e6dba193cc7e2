"""The legal texts (用户协议, 隐私政策, 排序与推广规则, 个人信息单独同意书): real pages
generated from what they describe, linked from the footer and the forms that refer to them,
versioned with an effective date, earlier versions readable word for word."""

from __future__ import annotations

import asyncio

import pytest

from marketplace.audit.tables import AuditEntry
from marketplace.consents.notices import DATA_ITEMS as SHARED_DATA_ITEMS
from marketplace.consents.notices import build_notice
from marketplace.legal.inventory import DATA_ITEMS
from marketplace.legal.services import publish
from marketplace.legal.tables import LegalVersion
from marketplace.legal.texts import LegalDocument
from marketplace.parameters.services import change_parameter
from tests import factories
from tests.fixtures import login, soup

DOCUMENT_PATHS = ["/legal/terms", "/legal/privacy", "/legal/consent-notice", "/ranking-policy"]


async def test_footer_links_every_legal_page_and_each_shows_its_version(client):
    home = soup(await client.get("/"))
    footer_links = {a["href"] for a in home.select(".site-footer a")}
    assert set(DOCUMENT_PATHS) <= footer_links
    for path in DOCUMENT_PATHS:
        response = await client.get(path)
        assert response.status_code == 200, path
        page = soup(response)
        version = page.select_one("#legal-version").get_text(" ", strip=True)
        assert version.startswith("第 1 版，") and "起生效" in version, path
        assert "现行版本" in version
        assert page.select_one("h1").text.strip()
    assert await LegalVersion.count() == 4
    assert await AuditEntry.count().where(AuditEntry.action == "legal.published") == 4


async def test_registration_and_apply_forms_link_the_texts_they_refer_to(client, world):
    register = soup(await client.get("/register"))
    hrefs = {a["href"]: a.text for a in register.select("form a")}
    assert hrefs["/legal/terms"] == "《用户协议》"
    assert hrefs["/legal/privacy"] == "《隐私政策》"

    product_id = await factories.listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    apply = soup(await client.get(f"/products/{product_id}/apply"))
    consent_links = {a["href"] for a in apply.select("fieldset.consent a")}
    assert {"/legal/consent-notice", "/legal/privacy"} <= consent_links
    for href in consent_links:
        assert (await client.get(href)).status_code == 200


async def test_privacy_policy_lists_every_data_item_with_purpose_recipient_and_retention(client):
    page = soup(await client.get("/legal/privacy"))
    table = page.select_one("table")
    head = [th.text for th in table.select("thead th")]
    assert head == ["类别", "信息", "用途", "接收方", "保存期限"]
    rows = table.select("tbody tr")
    assert len(rows) == len(DATA_ITEMS)
    for row in rows:
        assert all(td.text.strip() for td in row.select("td"))
    text = page.text
    for expected in ("身份证号码", "证明材料", "登录设备", "操作日志", "授权记录", "信用健康分"):
        assert expected in text
    shared = next(p.text for p in page.select("p") if p.text.startswith("可能提供给机构的信息项"))
    assert all(label in shared for label in SHARED_DATA_ITEMS.values())


async def test_consent_template_is_the_notice_the_apply_form_shows(client):
    page = soup(await client.get("/legal/consent-notice"))
    shown = [p.text for p in page.select("#legal-s1 ~ p")]
    notice = build_notice("〔机构名称〕", "〔机构客服电话〕", "〔产品名称〕")
    assert shown == [line for line in notice.text.split("\n") if line]
    assert notice.version in page.select_one(".page-header__subtitle").text


async def test_a_change_publishes_a_new_version_and_the_old_one_stays_readable(client, world):
    first = soup(await client.get("/ranking-policy"))
    assert "首页推荐位：每天最多 3 个" in first.text
    admin = await factories.user("operator", "root@loanmart.example", "super_admin", None, "管理员")
    await change_parameter(admin, "promotion_slots_home", 5)

    current = soup(await client.get("/ranking-policy"))
    assert "首页推荐位：每天最多 5 个" in current.text
    assert current.select_one("#legal-version").text.strip().startswith("第 2 版")
    old_link = current.select_one("#legal-versions ~ ul a")
    assert old_link["href"] == "/legal/ranking/versions/1"
    old = soup(await client.get(old_link["href"]))
    assert "首页推荐位：每天最多 3 个" in old.text
    assert "已被新版本取代" in old.select_one("#legal-version").text
    assert old.select_one("a[href='/legal/ranking']") is not None
    # Viewing again publishes nothing new.
    await client.get("/ranking-policy")
    assert await LegalVersion.count().where(LegalVersion.document == "ranking") == 2


async def test_parallel_first_views_publish_one_version():
    versions = await asyncio.gather(*(publish(LegalDocument.TERMS) for _ in range(5)))
    assert {v.number for v in versions} == {1}
    assert await LegalVersion.count().where(LegalVersion.document == "terms") == 1


@pytest.mark.parametrize(
    "path",
    [
        "/legal/nothing",
        "/legal/terms/versions/2",
        "/legal/terms/versions/0",
        "/legal/terms/versions/-1",
        "/legal/terms/versions/99999999999999999999",
        "/legal/%00",
        "/legal/" + "长" * 2000,
        "/legal/privacy/versions/１",
    ],
)
async def test_unknown_documents_and_versions_are_not_found(client, path):
    response = await client.get(path)
    assert response.status_code == 404, path
