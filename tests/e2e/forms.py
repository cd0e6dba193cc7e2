"""The apply form as a borrower fills it: one helper for every browser test that applies."""

from __future__ import annotations

from playwright.async_api import Page


async def fill_application(
    page: Page,
    *,
    name: str,
    id_number: str,
    city: str = "杭州",
    income: str = "15000",
    amount: str = "50000",
    term: str = "12",
    purpose: str = "daily",
    employment: str | None = "employee",
) -> None:
    """Everything the form asks for but the consent (each test decides that); pass
    `employment=None` to leave the employment type unchosen."""
    await page.fill("input[name=amount]", amount)
    await page.select_option("select[name=term_months]", term)
    await page.select_option("select[name=purpose]", purpose)
    await page.fill("input[name=real_name]", name)
    await page.fill("input[name=id_number]", id_number)
    await page.fill("input[name=city]", city)
    if employment is not None:
        await page.select_option("select[name=employment_type]", employment)
    await page.fill("input[name=monthly_income]", income)
