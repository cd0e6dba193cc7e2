"""Generated from the app's route handlers: for every admin and console route and every
role (the shipped ones and roles created on /admin/roles), a page is either allowed and —
when it is a menu page — linked in the menu, or denied and linked nowhere on the home page;
a POST action is refused to every role without its permission.

Nothing here lists routes by hand: a new route with `opt={"access": "operator" | "staff"}`
is covered the day it is added. The expected answer is the route's own `opt` read against
the role's effective permissions (the code matrix plus the super admin's edits)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx
import pytest

from marketplace.accounts import roles
from marketplace.accounts.role_matrix import create_role, set_permissions
from tests import factories
from tests.fixtures import Client, login, soup

AUDIENCES = {"operator": "/admin", "staff": "/console"}
HOME = {"operator": "/admin/", "staff": "/console/"}
LOGIN = {"operator": "/admin/login", "staff": "/console/login"}
# Roles the super admin creates: the operator one granted two permissions on the page,
# the staff one left with nothing (deny by default).
CREATED = {
    ("operator", "probe_reader"): {"audit.view", "jobs.view"},
    ("staff", "probe_clerk"): set(),
}
ROLES = [
    *(("operator", role) for role in roles.OPERATOR_ROLES),
    *(("staff", role) for role in roles.STAFF_ROLES),
    *CREATED,
]
# Ids no row has: an allowed role reaches the handler (its 404), a denied one the guard.
MISSING_ID = "987654"
PARAMETER = re.compile(r"\{(\w+):(\w+)\}")


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str  # with its parameters filled in
    name: str
    access: str
    permission: str | None
    has_parameters: bool


def _cases(app) -> list[RouteCase]:
    cases = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            access = handler.opt.get("access")
            if access not in AUDIENCES:
                continue
            filled = PARAMETER.sub(
                lambda m: MISSING_ID if m.group(2) == "int" else "csv", route.path
            )
            for method in sorted(handler.http_methods & {"GET", "POST"}):
                cases.append(
                    RouteCase(
                        method,
                        filled,
                        handler.name,
                        access,
                        handler.opt.get("permission"),
                        filled != route.path,
                    )
                )
    return cases


def _allowed(case: RouteCase, kind: str, role: str) -> bool:
    if case.access != kind:
        return False
    return not case.permission or roles.has_permission(kind, role, case.permission)


def _to_sign_in(response) -> bool:
    return response.is_redirect and "/login" in response.headers.get("location", "")


def _path(href: str) -> str:
    path = urlparse(href).path
    return path.rstrip("/") or "/"


@pytest.fixture
async def signed_in(app, world, request) -> tuple[str, str, Client]:
    kind, role = request.param
    root = await factories.user("operator", "root-probe@loanmart.example", "super_admin")
    for (created_kind, code), granted in CREATED.items():
        await create_role(root, created_kind, code, f"探针{code[-4:]}", "路由权限测试")
        if granted:
            await set_permissions(
                root, created_kind, code, granted, None, "路由权限测试", end_sessions=None
            )
    if (kind, role) == ("staff", "institution_admin"):
        account = "staff@test-bank.example"
    else:
        account = f"{role}-probe@{'test-bank' if kind == 'staff' else 'loanmart'}.example"
        await factories.user(kind, account, role, world.bank_id if kind == "staff" else None)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 50002))
    async with Client(transport=transport, base_url="http://testserver") as client:
        await login(client, LOGIN[kind], account)
        yield kind, role, client


@pytest.mark.parametrize("signed_in", ROLES, ids=[f"{k}-{r}" for k, r in ROLES], indirect=True)
async def test_each_route_is_allowed_and_shown_or_denied_and_hidden(app, signed_in):
    kind, role, client = signed_in
    cases = _cases(app)
    assert {case.access for case in cases} == set(AUDIENCES)
    assert any(case.name == "admin.roles.update" for case in cases)  # the index is complete
    problems: list[str] = []

    home = soup(await client.get(HOME[kind]))
    menu = {_path(a["href"]) for a in home.select(".site-nav a[href]")}
    linked = {_path(a["href"]) for a in home.select("a[href]")}
    menu_pages = {
        case.path
        for case in cases
        if case.method == "GET" and not case.has_parameters and _path(case.path) in _every_menu(app)
    }

    for case in cases:
        allowed = _allowed(case, kind, role)
        label = f"{case.method} {case.path} ({case.name}, {case.permission or 'no permission'})"
        if case.method == "GET":
            response = await client.get(case.path)
        else:
            response = await client.submit(case.path, {})
        status = response.status_code
        if status >= 500:
            problems.append(f"{label}: {status}")
        elif allowed and (status in (401, 403) or _to_sign_in(response)):
            problems.append(f"{label}: refused ({status}) though the role holds the permission")
        elif (
            allowed
            and case.method == "GET"
            and not case.has_parameters
            and status
            not in (
                200,
                301,
                302,
                303,
                307,
            )
        ):
            problems.append(f"{label}: {status} for an allowed page")
        elif not allowed and case.access == kind and status != 403:
            problems.append(f"{label}: {status}, expected 403 for a role without the permission")
        elif (
            not allowed
            and case.access != kind
            and not (status in (401, 403) or _to_sign_in(response))
        ):
            problems.append(f"{label}: {status} for the other audience")

        if case.method == "GET" and not case.has_parameters and case.access == kind:
            shown = _path(case.path) in menu
            if case.path in menu_pages and shown != allowed:
                problems.append(f"{label}: {'shown in' if shown else 'missing from'} the menu")
            if not allowed and _path(case.path) in linked:
                problems.append(f"{label}: linked from the home page but refused")
    assert not problems, f"{kind}/{role}:\n" + "\n".join(problems)


_MENU: set[str] = set()


def _every_menu(app) -> set[str]:
    """Paths of the pages any audience's menu can show: the nav entries of
    components/site_header.html, read through the app's route index."""
    if not _MENU:
        template = app.template_engine.engine.get_template("components/site_header.html")
        source = template.environment.loader.get_source(template.environment, template.name)[0]
        for name in re.findall(r'\("\w+", "((?:admin|console)\.[\w.]+)", _\(', source):
            _MENU.add(_path(app.route_reverse(name)))
    return _MENU


async def test_the_menu_index_finds_the_staff_menus(app):
    pages = _every_menu(app)
    assert {"/admin/roles", "/admin/parameters", "/admin/audit", "/console/products"} <= pages


# Actions on the signed-in user's own account or notices: any role of the audience may.
OWN_ACCOUNT_ACTIONS = {"console.me.mobile", "console.inbox.read_all", "admin.inbox.read_all"}


async def test_every_staff_and_operator_action_names_its_permission(app):
    """A POST without a permission would be open to every role of its audience, the ones
    created tomorrow included: each must name one, or act only on the user's own account."""
    unguarded = {
        case.name
        for case in _cases(app)
        if case.method == "POST" and not case.permission and case.name not in OWN_ACCOUNT_ACTIONS
    }
    assert not unguarded, sorted(unguarded)
