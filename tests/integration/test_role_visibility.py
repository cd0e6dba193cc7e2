"""Each role is shown only what it may do: every link on every page a role can reach opens
for that role (no 403, no bounce to a sign-in page), every button on those pages posts to
an action the role holds the permission for, and the known offenders are hidden."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from bs4 import BeautifulSoup

from marketplace import jobs
from marketplace.accounts import roles
from marketplace.applications.services import parse_application_input, submit_application
from marketplace.consents.notices import build_notice
from marketplace.products.services import save_product, submit_for_review
from marketplace.products.validation import parse_product_input
from tests import factories
from tests.fixtures import login, soup

STAFF_ROLES = ("institution_admin", "product_manager", "loan_officer", "risk_officer", "finance")
OPERATOR_ROLES = (
    "super_admin",
    "institution_reviewer",
    "product_reviewer",
    "content_editor",
    "customer_service",
    "risk_officer",
    "finance",
    "auditor",
)
ROLES = [
    ("borrower", "borrower"),
    *(("staff", role) for role in STAFF_ROLES),
    *(("operator", role) for role in OPERATOR_ROLES),
]
HOME = {"borrower": "/", "staff": "/console/", "operator": "/admin/"}
LOGIN = {"borrower": "/login", "staff": "/console/login", "operator": "/admin/login"}
MAX_PAGES = 60


def _account(kind: str, role: str) -> str:
    return {"staff": f"{role}@test-bank.example", "operator": f"{role}-op@loanmart.example"}[kind]


@pytest.fixture
async def marketplace_with_work(world):
    """A listed product with a lead, a product waiting for review and a draft, so lists,
    details and their links all exist; and one signed-in account per role."""
    listed = await factories.listed_product(world.staff, world.operator)
    notice = build_notice("测试银行", "400-000-0000", factories.PRODUCT_FORM["name"])
    form = factories.application_form(notice_digest=notice.digest)
    await submit_application(world.borrower, parse_application_input(listed, form))
    pending = await save_product(
        world.staff, None, parse_product_input({**factories.PRODUCT_FORM, "name": "待审核贷"})
    )
    await submit_for_review(world.staff, pending, acknowledge_high_cost=True)
    await save_product(
        world.staff, None, parse_product_input({**factories.PRODUCT_FORM, "name": "草稿贷"})
    )
    await jobs.run_until_idle()
    for role in STAFF_ROLES:
        if role != "institution_admin":
            await factories.user("staff", _account("staff", role), role, world.bank_id)
    for role in OPERATOR_ROLES:
        await factories.user("operator", _account("operator", role), role)
    return world


async def _sign_in(client, world, kind: str, role: str) -> None:
    account = world.borrower_mobile if kind == "borrower" else _account(kind, role)
    if (kind, role) == ("staff", "institution_admin"):
        account = "staff@test-bank.example"
    await login(client, LOGIN[kind], account)


def _in_audience(kind: str, path: str) -> bool:
    if path.startswith("/static/"):
        return False
    if kind == "staff":
        return path.startswith("/console/")
    if kind == "operator":
        return path.startswith("/admin/")
    return not path.startswith(("/console", "/admin"))


def _is_file(path: str) -> bool:
    return "/export/" in path or path.endswith((".xlsx", ".csv"))


async def _crawl(client, kind: str) -> tuple[dict[str, str], list[str]]:
    """Follow every link of the role's audience from its home page: {url: page html} and
    the links that did not open (with the page that showed them). Pages at a path not yet
    queued come first; the same page with other query parameters and file downloads wait,
    so the page budget reaches as many different pages (and their buttons) as it can."""
    seen: dict[str, str] = {}
    refused: list[str] = []
    first: deque[tuple[str, str]] = deque([(HOME[kind], "(start)")])
    later: deque[tuple[str, str]] = deque()
    queued = {HOME[kind]}
    queued_paths = {urlparse(HOME[kind]).path}
    while (first or later) and len(seen) < MAX_PAGES:
        url, shown_on = (first or later).popleft()
        response = await client.get(url)
        location = response.headers.get("location", "")
        if response.status_code >= 400 or "/login" in location:
            refused.append(f"{url} → {response.status_code} {location} (linked from {shown_on})")
            continue
        if response.is_redirect:
            continue
        seen[url] = response.text
        for anchor in soup(response).select("a[href]"):
            target = urldefrag(urljoin(url, anchor["href"])).url
            parsed = urlparse(target)
            if parsed.netloc not in ("", "testserver") or not _in_audience(kind, parsed.path):
                continue
            relative = parsed.path + (f"?{parsed.query}" if parsed.query else "")
            if relative not in queued:
                queued.add(relative)
                new_page = parsed.path not in queued_paths and not _is_file(parsed.path)
                queued_paths.add(parsed.path)
                (first if new_page else later).append((relative, url))
    return seen, refused


PARAMETER = re.compile(r"\\\{(\w+):(\w+)\\\}")
# What a button posts to: a form's action, a submit button's formaction, an htmx request.
_POSTING = (
    ("form[method=post i]", "action"),
    ("button[formaction], input[formaction]", "formaction"),
    ("[hx-post]", "hx-post"),
    ("[hx-put]", "hx-put"),
    ("[hx-patch]", "hx-patch"),
    ("[hx-delete]", "hx-delete"),
)


@dataclass(frozen=True)
class Action:
    """A route that changes something."""

    pattern: re.Pattern[str]
    parameters: int  # a literal path wins over a parameter that would also match it
    name: str
    access: str | None
    permission: str | None


def _actions(app) -> list[Action]:
    found = []
    for route in app.routes:
        pattern, parameters = PARAMETER.subn(
            lambda m: r"\d+" if m.group(2) == "int" else r"[^/]+", re.escape(route.path)
        )
        for handler in getattr(route, "route_handlers", ()):
            if handler.http_methods & {"POST", "PUT", "PATCH", "DELETE"}:
                found.append(
                    Action(
                        re.compile(f"{pattern}/?"),
                        parameters,
                        handler.name,
                        handler.opt.get("access"),
                        handler.opt.get("permission"),
                    )
                )
    return found


def _refused_buttons(app, pages: dict[str, str], kind: str, role: str) -> list[str]:
    """Buttons shown to the role that post to a staff or operator action it does not hold."""
    actions = _actions(app)
    refused = []
    for url, html in pages.items():
        page = BeautifulSoup(html, "html.parser")
        for selector, attribute in _POSTING:
            for control in page.select(selector):
                target = urlparse(urljoin(url, control.get(attribute) or url)).path
                matches = [action for action in actions if action.pattern.fullmatch(target)]
                fewest = min((action.parameters for action in matches), default=0)
                for action in matches:
                    if action.parameters > fewest or action.access not in ("staff", "operator"):
                        continue
                    if action.access != kind or (
                        action.permission
                        and not roles.has_permission(kind, role, action.permission)
                    ):
                        refused.append(
                            f"{target} ({action.name}, {action.permission}) shown on {url}"
                        )
    return refused


def _links(html: str) -> set[str]:
    return {urlparse(a["href"]).path for a in BeautifulSoup(html, "html.parser").select("a[href]")}


def _link_texts(html: str) -> str:
    """What the links and buttons say (the footer's prose may name any area)."""
    controls = BeautifulSoup(html, "html.parser").select("a, button")
    return " ".join(control.get_text(" ", strip=True) for control in controls)


@pytest.mark.parametrize(("kind", "role"), ROLES, ids=[f"{k}-{r}" for k, r in ROLES])
async def test_every_link_a_role_is_shown_opens(app, client, marketplace_with_work, kind, role):
    await _sign_in(client, marketplace_with_work, kind, role)
    pages, refused = await _crawl(client, kind)
    assert not refused, "\n".join(refused)
    buttons = _refused_buttons(app, pages, kind, role)
    assert not buttons, "buttons for actions the role may not take:\n" + "\n".join(buttons)
    assert HOME[kind] in pages
    every_link = set().union(*(_links(html) for html in pages.values()))
    # The reachable pages really were crawled, so an empty `refused` means something.
    if kind == "staff":
        assert "/console/products" in every_link
    if kind == "operator" and role in ("super_admin", "product_reviewer"):
        assert "/admin/reviews/products" in every_link


async def test_known_offenders_are_hidden_and_entitled_roles_still_see_them(
    client, marketplace_with_work
):
    world = marketplace_with_work

    async def page_as(kind: str, role: str, url: str) -> str:
        client.cookies.clear()
        await _sign_in(client, world, kind, role)
        response = await client.get(url)
        assert response.status_code == 200, (role, url)
        return response.text

    for url in ("/console/", "/console/products"):
        officer = await page_as("staff", "loan_officer", url)
        assert "新建产品" not in _link_texts(officer) and "/console/products/new" not in _links(
            officer
        )
        admin = await page_as("staff", "institution_admin", url)
        assert "/console/products/new" in _links(admin)

    manager_home = await page_as("staff", "product_manager", "/console/")
    assert "/console/leads" not in _links(manager_home)
    assert "/console/products/new" in _links(manager_home)

    auditor_home = await page_as("operator", "auditor", "/admin/")
    assert "产品审核" not in _link_texts(auditor_home)
    assert "/admin/reviews/products" not in _links(auditor_home)
    assert "/admin/audit" in _links(auditor_home)

    reviewer_home = await page_as("operator", "product_reviewer", "/admin/")
    assert "审计日志" not in _link_texts(reviewer_home)
    assert "/admin/audit" not in _links(reviewer_home)
    assert "/admin/reviews/products" in _links(reviewer_home)

    editor_home = await page_as("operator", "content_editor", "/admin/")
    assert not {"/admin/audit", "/admin/reviews/products"} & _links(editor_home)
    assert "联系超级管理员" in editor_home


async def test_only_borrowers_and_visitors_are_offered_to_apply(client, world):
    product_id = await factories.listed_product(world.staff, world.operator)
    page = f"/products/{product_id}"
    quote = f"/products/{product_id}/quote?amount=50000&term=12"

    def apply_links(response) -> int:
        return len(soup(response).select(f'a[href^="/products/{product_id}/apply"]'))

    assert apply_links(await client.get(page)) == 2  # signed out: both lead to sign-in
    await login(client, "/console/login", "staff@test-bank.example")
    assert apply_links(await client.get(page)) == 0
    assert apply_links(await client.get(quote)) == 0


async def test_a_404_on_a_public_page_still_shows_who_is_signed_in(client, world):
    await login(client, "/login", world.borrower_mobile)
    missing = await client.get("/products/99999999")
    assert missing.status_code == 404
    header = soup(missing).select_one(".site-header")
    assert "张伟" in header.get_text()
    assert header.select_one('a[href="/login"]') is None
