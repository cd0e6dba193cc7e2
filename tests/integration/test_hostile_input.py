"""Bad input never gives a 500 (ARCHITECTURE rule 11).

Every route of the app is walked with a fixed corpus of hostile values: in its path
parameters, in every query parameter its page reads (learned from the page's GET forms
and links) and in every field of every form that posts to it (learned from the pages'
forms), as each kind of visitor. Any 5xx fails the test with the list of offenders.
A rejected form must come back with every typed value still in its inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from litestar.routes import HTTPRoute

from marketplace import jobs
from marketplace.applications.tables import Application
from marketplace.products.services import save_product, submit_for_review
from marketplace.products.validation import parse_product_input
from tests import factories
from tests.factories import PRODUCT_FORM, application_form, listed_product
from tests.fixtures import Client, apply_form_secrets, login, soup

HOSTILE = (
    "²",
    "٣",
    "１２",
    "-1",
    "0",
    "9" * 40,
    "1" + "0" * 20,
    "1e999999",
    "NaN",
    "Infinity",
    "-Infinity",
    "%00",
    "a\x00b",
    "x" * 10_000,
    "<script>alert(1)</script>",
    "' OR '1'='1'; --",
    "😀" * 8,
    "\u202e\u200fabc",
    "",
)
# Routes that end the visitor's session, or belong to signing in: walked anonymously only.
SESSION_ROUTES = (".auth.",)


@dataclass
class Form:
    action: str
    fields: dict[str, str | list[str]] = field(default_factory=dict)


@dataclass
class Walk:
    sent: int = 0
    failures: list[str] = field(default_factory=list)

    async def send(
        self, client: Client, method: str, url: str, hostile: str = "", **kwargs
    ) -> httpx.Response:
        """`hostile` names the value under test, for the failure list."""
        self.sent += 1
        response = await client.request(method, url, **kwargs)
        if response.status_code >= 500:
            self.failures.append(f"{response.status_code} {method} {url[:100]} {hostile:.120}")
        return response


def _forms(page: httpx.Response) -> list[Form]:
    """Every form on the page with its fields' initial values; hx-post targets count too."""
    forms = []
    for node in soup(page).select("form"):
        fields: dict[str, str | list[str]] = {}
        for control in node.select("input[name], select[name], textarea[name]"):
            name = control["name"]
            if name == "_csrf_token":
                continue
            if control.name == "select":
                chosen = control.select_one("option[selected]") or control.select_one("option")
                value = chosen.get("value", chosen.text) if chosen else ""
            elif control.name == "textarea":
                value = control.text
            elif control.get("type") in ("checkbox", "radio"):
                if not control.has_attr("checked") and name in fields:
                    continue
                value = control.get("value", "on")
            else:
                value = control.get("value", "")
            fields[name] = value
        method = (node.get("method") or "get").lower()
        targets = [node.get("action") or urlsplit(str(page.url)).path]
        if node.get("hx-post"):
            targets.append(node["hx-post"])
        for target in targets:
            path = urlsplit(target).path or urlsplit(str(page.url)).path
            forms.append(Form(action=f"{method} {path}", fields=dict(fields)))
    return forms


def _query_keys(page: httpx.Response, path: str) -> set[str]:
    keys = {"page", "q", "id"}
    for form in _forms(page):
        if form.action == f"get {path}":
            keys |= set(form.fields)
    for link in soup(page).select("a[href]"):
        parts = urlsplit(link["href"])
        if parts.path in ("", path):
            keys |= {key for key, _ in parse_qsl(parts.query)}
    return keys


def _paths(route: HTTPRoute, ids: dict[str, str]) -> tuple[str, list[str]]:
    """The route's path with real ids, and variants with one hostile value per parameter."""
    if route.path.startswith("/admin/reviews"):
        ids = {**ids, "product_id": ids["pending_id"]}
    real = route.path
    for name, definition in route.path_parameters.items():
        real = real.replace("{" + definition.full + "}", ids.get(name, "1"))
    hostile = []
    for name in route.path_parameters:
        for value in HOSTILE:
            path = route.path
            for other, other_def in route.path_parameters.items():
                replacement = quote(value, safe="") if other == name else ids.get(other, "1")
                path = path.replace("{" + other_def.full + "}", replacement)
            hostile.append(path)
    return real, hostile


BASELINES = {
    "/products/{product_id:int}/apply": application_form(),
    "/console/products/new": PRODUCT_FORM,
    "/console/products/preview": PRODUCT_FORM,
    "/console/products/{product_id:int}/edit": PRODUCT_FORM,
}


def _access(route: HTTPRoute) -> str:
    return next(iter(h.opt.get("access", "") for h in route.route_handlers))


async def _walk(client: Client, app, walk: Walk, ids: dict[str, str], kind: str) -> None:
    """Hostile path ids on every route; hostile query and form values on the routes
    meant for this kind of visitor (others only see a redirect or a 403)."""
    forms: dict[str, Form] = {}
    routes = [r for r in app.routes if isinstance(r, HTTPRoute)]
    pages: list[tuple[str, httpx.Response]] = []
    for route in routes:
        names = {h.name or "" for h in route.route_handlers}
        if kind != "public" and any(part in name for name in names for part in SESSION_ROUTES):
            continue
        real, hostile_paths = _paths(route, ids)
        if "GET" in route.methods:
            page = await walk.send(client, "GET", real)
            if _access(route) == kind:
                pages.append((real, page))
            for form in _forms(page):
                forms.setdefault(form.action, form)
            for path in hostile_paths:
                await walk.send(client, "GET", path)
        if "POST" in route.methods:
            for path in hostile_paths:
                await walk.send(
                    client, "POST", path, data={"_csrf_token": await client.csrf_token()}
                )

    for real, page in pages:
        for key in sorted(_query_keys(page, real)):
            for value in HOSTILE:
                await walk.send(client, "GET", real, f"?{key}={value!r}", params={key: value})
        await walk.send(client, "GET", real, params=[("id", v) for v in HOSTILE])

    for route in routes:
        names = {h.name or "" for h in route.route_handlers}
        if "POST" not in route.methods or _access(route) != kind:
            continue
        if kind != "public" and any(part in name for name in names for part in SESSION_ROUTES):
            continue
        if any(name.endswith("logout") for name in names):
            continue
        real, _ = _paths(route, ids)
        form = forms.get(f"post {real}")
        fields = dict(form.fields) if form else {}
        baseline = {**fields, **BASELINES.get(route.path, {})}
        for key in fields.keys() | BASELINES.get(route.path, {}).keys():
            for value in HOSTILE:
                data = {**baseline, key: value, "_csrf_token": await client.csrf_token()}
                await walk.send(client, "POST", real, f"{key}={value!r}", data=data)
        everything = {key: HOSTILE[-6] for key in baseline}
        data = {**everything, "_csrf_token": await client.csrf_token()}
        await walk.send(client, "POST", real, "every field", data=data)


async def _world_with_rows(world) -> dict[str, str]:
    product_id = await listed_product(world.staff, world.operator)
    pending = await save_product(world.staff, None, parse_product_input(PRODUCT_FORM))
    await submit_for_review(world.staff, pending, acknowledge_high_cost=True)
    return {"product_id": str(product_id), "pending_id": str(pending)}


async def _signed_in(app, path: str, login_name: str) -> Client:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.8", 50000))
    client = Client(transport=transport, base_url="http://testserver")
    await login(client, path, login_name)
    return client


async def test_no_route_gives_a_5xx_for_hostile_input(app, client, world):
    ids = await _world_with_rows(world)
    # One real lead, so the console's lead pages render with data.
    borrower = await _signed_in(app, "/login", world.borrower_mobile)
    apply_page = soup(await borrower.get(f"/products/{ids['product_id']}/apply"))
    hidden = {
        name: apply_page.select_one(f"input[name={name}]")["value"]
        for name in ("notice_digest", "submission_key")
    }
    applied = await borrower.submit(
        f"/products/{ids['product_id']}/apply", application_form(**hidden)
    )
    assert applied.status_code == 303
    application = await Application.objects().first()
    ids |= {"application_id": str(application.id), "reference": application.reference}
    ids["file_path"] = "css/app.css"
    officer = await factories.user(
        "staff", "officer@test-bank.example", "loan_officer", world.bank_id, "赵信"
    )
    assert officer.role == "loan_officer"
    # The operator who may open every admin page (reviews, audit log, jobs).
    await factories.user("operator", "super@loanmart.example", "super_admin", None, "超管")

    walk = Walk()
    visitors = [
        (client, "public"),
        (borrower, "borrower"),
        (await _signed_in(app, "/console/login", "staff@test-bank.example"), "staff"),
        (await _signed_in(app, "/console/login", "officer@test-bank.example"), "staff"),
        (await _signed_in(app, "/admin/login", "super@loanmart.example"), "operator"),
    ]
    for visitor, kind in visitors:
        await _walk(visitor, app, walk, ids, kind)
    for path in ("/static/css/app.css%00.py", "/static/%00", "/static/" + "a" * 5000):
        await walk.send(client, "GET", path)
    # Still signed in at the end, so the walk really saw their pages.
    homes = {"borrower": "/me/applications", "staff": "/console/", "operator": "/admin/"}
    for visitor, kind in visitors[1:]:
        assert (await visitor.get(homes[kind])).status_code == 200, kind
        await visitor.aclose()
    print(f"hostile requests sent: {walk.sent}; 5xx: {len(walk.failures)}")
    assert not walk.failures, f"{len(walk.failures)} of {walk.sent}:\n" + "\n".join(
        walk.failures[:80]
    )


def _shown_values(page: httpx.Response, action: str) -> dict[str, str | list[str]]:
    """What the re-rendered form holds, field by field (checkbox groups as lists)."""
    form = next(f for f in soup(page).select("form") if f.get("action") == action)
    shown: dict[str, str | list[str]] = {}
    for control in form.select("input[name], select[name], textarea[name]"):
        name = control["name"]
        if control.name == "select":
            chosen = control.select_one("option[selected]")
            shown[name] = chosen.get("value", "") if chosen else ""
        elif control.name == "textarea":
            shown[name] = control.text
        elif control.get("type") == "checkbox":
            if control.has_attr("checked"):
                group = shown.setdefault(name, [])
                assert isinstance(group, list)
                group.append(control.get("value", ""))
        else:
            shown[name] = control.get("value", "")
    return shown


def _assert_kept(typed: dict[str, str | list[str]], shown: dict[str, str | list[str]]) -> None:
    for name, value in typed.items():
        if isinstance(value, list):
            assert sorted(shown.get(name, [])) == sorted(value), name
        else:
            assert shown.get(name) == value, f"{name}: typed {value!r}, shown {shown.get(name)!r}"


async def test_rejected_apply_form_keeps_every_typed_value(client, world):
    product_id = await listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden = await apply_form_secrets(client, product_id)
    # A city longer than its column and an income that is not a number: both used to 500
    # (the first losing everything typed).
    typed = application_form(**hidden, city="城" * 31, monthly_income="1e999999")
    response = await client.submit(f"/products/{product_id}/apply", typed)
    assert response.status_code == 400
    errors = {node["id"] for node in soup(response).select("[id$=-error]")}
    assert {"f-city-error", "f-monthly_income-error"} <= errors, errors
    _assert_kept(
        {**typed, "consent": ["yes"]}, _shown_values(response, f"/products/{product_id}/apply")
    )
    assert await Application.count() == 0


async def test_rejected_product_form_keeps_every_typed_value(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    typed = {
        **PRODUCT_FORM,
        "rate": "500",
        "amount_max": "1e13",
        "keywords": "k" * 21,
        "cities": ["北京市", "上海市"],  # ticked in the city picker
    }
    response = await client.submit("/console/products/new", typed)
    assert response.status_code == 400
    text = response.text
    assert "利率不能大于100" in text and "每个搜索关键词最多20个字" in text
    _assert_kept(typed, _shown_values(response, "/console/products/new"))


async def test_rejected_console_form_keeps_the_typed_note(app, client, world):
    product_id = await listed_product(world.staff, world.operator)
    borrower = await _signed_in(app, "/login", world.borrower_mobile)
    page = soup(await borrower.get(f"/products/{product_id}/apply"))
    hidden = {
        name: page.select_one(f"input[name={name}]")["value"]
        for name in ("notice_digest", "submission_key")
    }
    assert (
        await borrower.submit(f"/products/{product_id}/apply", application_form(**hidden))
    ).status_code == 303
    await borrower.aclose()
    await jobs.run_until_idle()  # delivered: the institution can work it now
    application = await Application.objects().first()
    await login(client, "/console/login", "staff@test-bank.example")
    note = "请补充近六个月的银行流水。" * 40  # longer than the timeline note allows
    action = f"/console/leads/{application.id}/status"
    response = await client.submit(action, {"action": "review", "note": note})
    assert response.status_code == 400
    assert _shown_values(response, action)["note"] == note
    assert (await Application.objects().first()).status == application.status


def test_domain_errors_map_to_one_set_of_statuses():
    from marketplace.errors import DomainError, InvalidTransition, Throttled, ValidationFailed
    from server.errors import form_status, retry_headers, status_of

    assert status_of(InvalidTransition("x")) == form_status(InvalidTransition("x")) == 409
    assert status_of(Throttled("x", retry_after=90)) == 429
    assert retry_headers(Throttled("x", retry_after=90)) == {"Retry-After": "90"}
    assert retry_headers(Throttled("x")) == {}
    assert status_of(ValidationFailed({"city": "x"})) == 422
    assert form_status(ValidationFailed({"city": "x"})) == 400
    assert status_of(DomainError("x")) == 409


async def test_the_known_500s_are_ordinary_answers_now(client, world):
    product_id = await listed_product(world.staff, world.operator)
    big = "9" * 40
    for path in (f"/products/{big}", f"/products/{big}/quote", "/static/css/app.css%00.py"):
        assert (await client.get(path)).status_code == 404, path
    # Malformed filters in a query string are ignored, not errors.
    for path in ("/products?page=²", f"/products?amount={big}", "/compare?id=²&id=1"):
        assert (await client.get(path)).status_code == 200, path
    calculator = await client.get("/calculator", params={"term": "²"})
    assert calculator.status_code == 200
    assert soup(calculator).select_one("#f-term-error") is not None
    quote = await client.get(f"/products/{product_id}/quote", params={"amount": "1e999999"})
    assert quote.status_code == 200 and "请填写正确的借款金额" in quote.text
