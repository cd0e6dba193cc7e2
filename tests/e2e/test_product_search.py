"""The product list in a browser: filters folded on a phone, clean URLs, and the back
button putting the form back as well as the results."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from playwright.async_api import expect


def _params(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


async def test_on_a_phone_the_filters_fold_away_and_the_first_product_is_on_screen(new_page):
    page = await new_page()
    await page.goto("/products")
    fold = page.locator("#product-filters-fold")
    assert not await fold.evaluate("el => el.open")
    card = page.locator("#results article.product-card").first
    box = await card.bounding_box()
    assert box is not None and box["y"] < 844, box
    desktop = await new_page(mobile=False)
    await desktop.goto("/products")
    assert await desktop.locator("#product-filters-fold").evaluate("el => el.open")
    await expect(desktop.locator("#f-institution")).to_be_visible()


async def test_urls_stay_clean_and_back_restores_the_form(new_page):
    page = await new_page(mobile=False)
    await page.goto("/products")
    await page.fill("input[name=q]", "装修")
    await page.keyboard.press("Enter")
    await expect(page.locator("#results-count")).to_contain_text("装修")
    await expect(page).to_have_url(re.compile(r"q="))
    assert all(value for _, value in _params(page.url)), page.url
    assert dict(_params(page.url))["q"] == "装修"

    await page.select_option("#f-category", "mortgage")
    await expect(page).to_have_url(re.compile(r"category=mortgage"))
    assert all(value for _, value in _params(page.url)), page.url
    mortgage_count = await page.locator("#results-count").inner_text()

    await page.fill("input[name=q]", "公积金")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"q=%E5%85%AC"))

    # Typing, Enter and the change event each fire the 公积金 search; it is one history
    # entry, so one back press returns to the 装修 + mortgage search.
    await page.wait_for_timeout(600)
    await page.go_back()
    await expect(page).to_have_url(re.compile(r"q=%E8%A3%85%E4%BF%AE"))
    await expect(page).to_have_url(re.compile(r"category=mortgage"))
    await expect(page.locator("input[name=q]")).to_have_value("装修")
    await expect(page.locator("#f-category")).to_have_value("mortgage")
    await expect(page.locator("#results-count")).to_have_text(mortgage_count)

    # One more back press: the 装修 search before the category was chosen.
    await page.go_back()
    await expect(page).not_to_have_url(re.compile(r"category="))
    await expect(page.locator("input[name=q]")).to_have_value("装修")
    await expect(page.locator("#f-category")).to_have_value("")
    assert dict(_params(page.url)).items() <= {"q": "装修", "sort": "apr"}.items()


async def test_without_javascript_the_form_lands_on_a_clean_url(new_page):
    page = await new_page(javascript=False)
    await page.goto("/products")
    await page.locator("#product-filters-fold summary").click()
    await page.select_option("#f-term", "12")
    await page.get_by_role("button", name="搜索", exact=True).click()
    await expect(page.locator("#results-count")).to_be_visible()
    # The server answered the form's `?q=&category=&…` with a redirect to what was chosen.
    assert all(value for _, value in _params(page.url)), page.url
    assert ("term", "12") in _params(page.url)
