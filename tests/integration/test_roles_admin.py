"""Roles and permissions (A2): every operator reads the matrix, the super admin edits it
(with a reason, numbered, audited) and creates roles; an edit applies in every process at
its next request; deny by default stays; parallel edits of one cell never lose a version."""

from __future__ import annotations

import asyncio
import json

import pytest

from marketplace import cache, jobs
from marketplace.accounts import roles
from marketplace.accounts.role_matrix import (
    MATRIX_STAMP_KEY,
    create_role,
    ensure_fresh,
    set_permissions,
)
from marketplace.accounts.role_tables import CustomRole, RoleGrant, RoleMatrixChange
from marketplace.audit.tables import AuditEntry
from marketplace.contexts import Cron
from marketplace.errors import DomainError, PermissionDenied
from tests import factories
from tests.fixtures import login, soup

ROOT = "root@loanmart.example"


@pytest.fixture
async def root(world):
    return await factories.user("operator", ROOT, "super_admin", None, "超管")


def _ticked(page) -> set[str]:
    return {box["value"] for box in page.select("input[name=permissions][checked]")}


def _versions(page) -> dict[str, str]:
    return {
        field["name"]: field["value"] for field in page.select("input[type=hidden][name^='v.']")
    }


async def _edit_form(client, kind: str, role: str) -> tuple[set[str], dict[str, str]]:
    response = await client.get(f"/admin/roles/{kind}/{role}")
    assert response.status_code == 200, response.text[:300]
    page = soup(response)
    return _ticked(page), _versions(page)


def _form(ticked: set[str], versions: dict[str, str], reason: str = "审计需要") -> dict:
    return {**versions, "permissions": sorted(ticked), "reason": reason}


async def test_every_operator_reads_the_matrix_only_the_super_admin_edits(client, world, root):
    await login(client, "/admin/login", "auditor@loanmart.example")
    page = soup(await client.get("/admin/roles"))
    assert page.select_one("h1").text == "角色权限"
    headers = [th.get_text(" ", strip=True) for th in page.select("table.role-matrix thead th")]
    assert any("审计员" in h for h in headers) and any("机构管理员" in h for h in headers)
    assert page.select_one("a[href='/admin/roles']") is not None  # in the menu
    assert not page.select("a[href^='/admin/roles/operator/']"), "no edit links for the auditor"
    assert page.select_one("form[action='/admin/roles']") is None
    assert (await client.get("/admin/roles/operator/auditor")).status_code == 403
    refused = await client.submit(
        "/admin/roles/operator/auditor", {"permissions": ["role.manage"], "reason": "越权尝试"}
    )
    assert refused.status_code == 403
    assert not await RoleMatrixChange.exists()

    client.cookies.clear()
    await login(client, "/admin/login", ROOT)
    page = soup(await client.get("/admin/roles"))
    assert page.select_one("a[href='/admin/roles/operator/auditor']") is not None
    assert page.select_one("form[action='/admin/roles']") is not None


async def test_a_grant_applies_at_the_next_request_and_is_numbered_and_audited(
    client, staff_client, world, root
):
    await login(staff_client, "/admin/login", "reviewer@loanmart.example")
    assert (await staff_client.get("/admin/audit")).status_code == 403
    home = soup(await staff_client.get("/admin/"))
    assert home.select_one(".site-nav a[href='/admin/audit']") is None

    await login(client, "/admin/login", ROOT)
    ticked, versions = await _edit_form(client, "operator", "product_reviewer")
    assert "product.review" in ticked and "audit.view" not in ticked
    response = await client.submit(
        "/admin/roles/operator/product_reviewer",
        _form(ticked | {"audit.view"}, versions, "复核审核记录"),
    )
    assert response.status_code == 303, response.text[:500]
    assert response.headers["location"] == "/admin/roles"

    # The reviewer's very next request sees it: page and menu link.
    assert (await staff_client.get("/admin/audit")).status_code == 200
    home = soup(await staff_client.get("/admin/"))
    assert home.select_one(".site-nav a[href='/admin/audit']") is not None

    change = await RoleMatrixChange.select().first()
    assert (change["version"], change["action"], change["permission"], change["reason"]) == (
        1,
        "grant",
        "audit.view",
        "复核审核记录",
    )
    entry = await AuditEntry.select().where(AuditEntry.action == "role.grant").first()
    assert entry["object_id"] == "operator:product_reviewer"
    assert json.loads(entry["detail"])["permission"] == "audit.view"

    page = soup(await client.get("/admin/roles"))
    assert "复核审核记录" in page.select_one("#role-history-title").find_parent("section").text
    assert page.select(".role-matrix__cell--edited")

    # Revoked again: the reviewer is signed out and the role holds neither permission.
    ticked, versions = await _edit_form(client, "operator", "product_reviewer")
    response = await client.submit(
        "/admin/roles/operator/product_reviewer",
        _form(ticked - {"audit.view", "product.review"}, versions, "收回权限"),
    )
    assert response.status_code == 303
    # (Signing in again is the TOTP step, refused for the same code within its window.)
    signed_out = await staff_client.get("/admin/audit")
    assert signed_out.status_code == 303 and "/admin/login" in signed_out.headers["location"]
    assert not roles.has_permission("operator", "product_reviewer", "audit.view")
    assert not roles.has_permission("operator", "product_reviewer", "product.review")
    assert await RoleMatrixChange.count() == 3


async def test_another_process_reloads_when_the_stamp_changes(world, root):
    """A second process is this one with its copy swapped for an old one: the stamp in
    Redis differs, so its next request reloads; a lost stamp (Redis flushed) reloads too."""
    await set_permissions(
        root,
        "operator",
        "auditor",
        roles.permissions_of("operator", "auditor") | {"jobs.manage"},
        None,
        "排障需要",
        end_sessions=None,
    )
    assert roles.has_permission("operator", "auditor", "jobs.manage")
    roles.install(roles.EffectiveMatrix(token="an older stamp"))
    assert not roles.has_permission("operator", "auditor", "jobs.manage")
    await ensure_fresh()
    assert roles.has_permission("operator", "auditor", "jobs.manage")

    roles.install(roles.EffectiveMatrix(token="stale"))
    await cache.redis().delete(MATRIX_STAMP_KEY)
    await ensure_fresh()
    assert roles.has_permission("operator", "auditor", "jobs.manage")
    stamp = await cache.redis().get(MATRIX_STAMP_KEY)
    assert stamp and stamp == roles.loaded_token()


async def test_a_grant_made_in_another_process_applies_at_the_next_request_and_job(
    staff_client, world, root
):
    """This process's copy is swapped for an older one after the super admin's grant: the
    guard reloads it on the reviewer's next request, and a worker before its next job."""
    await login(staff_client, "/admin/login", "reviewer@loanmart.example")
    assert (await staff_client.get("/admin/audit")).status_code == 403
    await set_permissions(
        root,
        "operator",
        "product_reviewer",
        roles.permissions_of("operator", "product_reviewer") | {"audit.view"},
        None,
        "复核审核记录",
        end_sessions=None,
    )
    roles.install(roles.EffectiveMatrix(token="an older stamp"))
    assert (await staff_client.get("/admin/audit")).status_code == 200

    roles.install(roles.EffectiveMatrix(token="an older stamp"))
    _SEEN.clear()
    job = jobs._cron_job(Cron("tests.probe", f"{__name__}:_probe_permission", every_seconds=60))
    await job.coroutine({})
    assert _SEEN == [True]


_SEEN: list[bool] = []


async def _probe_permission() -> None:
    _SEEN.append(roles.has_permission("operator", "product_reviewer", "audit.view"))


async def test_a_revocation_ends_the_sessions_of_the_roles_holders_and_a_grant_does_not(
    client, staff_client, world, root
):
    await login(staff_client, "/admin/login", "reviewer@loanmart.example")
    await login(client, "/admin/login", ROOT)
    ticked, versions = await _edit_form(client, "operator", "product_reviewer")
    granted = await client.submit(
        "/admin/roles/operator/product_reviewer",
        _form(ticked | {"audit.view"}, versions, "复核审核记录"),
    )
    assert granted.status_code == 303
    assert (await staff_client.get("/admin/audit")).status_code == 200

    ticked, versions = await _edit_form(client, "operator", "product_reviewer")
    revoked = await client.submit(
        "/admin/roles/operator/product_reviewer",
        _form(ticked - {"audit.view"}, versions, "收回权限"),
    )
    assert revoked.status_code == 303
    signed_out = await staff_client.get("/admin/")
    assert signed_out.status_code == 303 and "/admin/login" in signed_out.headers["location"]
    # The super admin who edited the matrix keeps their session.
    assert (await client.get("/admin/roles")).status_code == 200


async def test_guard_rails(client, world, root):
    await login(client, "/admin/login", ROOT)
    ticked, versions = await _edit_form(client, "operator", "super_admin")
    assert "role.manage" in ticked
    response = await client.submit(
        "/admin/roles/operator/super_admin", _form(ticked - {"role.manage"}, versions, "试一下")
    )
    assert response.status_code == 400
    assert "不能撤销" in soup(response).select_one(".error-summary").text
    for hostile in (
        "made.up",
        "<script>alert(1)</script>",
        "role.manage'; DROP TABLE x;--",
        "权限",
    ):
        response = await client.submit(
            "/admin/roles/operator/super_admin", _form(ticked | {hostile}, versions, "试一下")
        )
        assert response.status_code == 400, hostile
        assert "不认识的权限" in soup(response).select_one(".error-summary").text
        assert "<script>alert" not in response.text
    # A staff-only permission is not one an operator role can hold.
    response = await client.submit(
        "/admin/roles/operator/auditor", _form({"lead.reveal"}, versions, "试一下")
    )
    assert response.status_code == 400
    # No reason, or a reason too long: refused with the ticks kept.
    for reason in ("", " ", "长" * 201):
        response = await client.submit(
            "/admin/roles/operator/auditor", _form(ticked | {"jobs.manage"}, versions, reason)
        )
        assert response.status_code == 400
        page = soup(response)
        assert page.select_one("#f-reason")["aria-invalid"] == "true"
        assert "jobs.manage" in _ticked(page)
    # Nothing changed: said so.
    ticked, versions = await _edit_form(client, "operator", "auditor")
    response = await client.submit("/admin/roles/operator/auditor", _form(ticked, versions))
    assert response.status_code == 400
    for path in (
        "/admin/roles/operator/nobody",
        "/admin/roles/borrower/borrower",
        "/admin/roles/x/y",
    ):
        assert (await client.get(path)).status_code == 404
        assert (await client.submit(path, _form(set(), {}))).status_code == 404
    assert not await RoleMatrixChange.exists()
    assert not await AuditEntry.exists().where(AuditEntry.action.like("role.%"))
    with pytest.raises(PermissionDenied):
        await set_permissions(
            world.auditor, "operator", "auditor", set(), None, "越权", end_sessions=None
        )


async def test_parallel_edits_of_one_cell_keep_every_version(client, world, root):
    await login(client, "/admin/login", ROOT)
    ticked, versions = await _edit_form(client, "operator", "auditor")
    # Both editors saw the role's cells at version 0 and both change one cell: one wins, the
    # other is told to reload (409) — never a silent overwrite of an edit it did not see.
    results = await asyncio.gather(
        client.submit(
            "/admin/roles/operator/auditor", _form(ticked | {"jobs.manage"}, versions, "甲方复核")
        ),
        client.submit(
            "/admin/roles/operator/auditor",
            _form(ticked | {"jobs.manage", "institution.view"}, versions, "乙方复核"),
        ),
    )
    assert sorted(r.status_code for r in results) == [303, 409]
    cell = await RoleGrant.select().where(RoleGrant.permission == "jobs.manage").first()
    changes = await RoleMatrixChange.select().order_by(RoleMatrixChange.version)
    assert [c["version"] for c in changes] == list(range(1, len(changes) + 1))
    assert [c["permission"] for c in changes].count("jobs.manage") == 1
    assert cell["version"] == next(
        c["version"] for c in changes if c["permission"] == "jobs.manage"
    )
    loser = next(r for r in results if r.status_code == 409)
    assert "刚被其他人修改过" in loser.text
    # The loser's form came back with what it had ticked, to submit again after a look.
    assert "institution.view" in _ticked(soup(loser)) or "jobs.manage" in _ticked(soup(loser))

    # Service level: many grants of different cells at once get distinct versions.
    permissions = ["collection.view", "consent.oversee", "dashboard.view", "settlement.view"]
    await asyncio.gather(
        *(
            set_permissions(
                root,
                "operator",
                "customer_service",
                roles.default_permissions("operator", "customer_service") | {p},
                None,
                f"并行{p}",
                end_sessions=None,
            )
            for p in permissions
        ),
        return_exceptions=True,
    )
    rows = await RoleMatrixChange.select(RoleMatrixChange.version)
    assert len({r["version"] for r in rows}) == len(rows)


async def test_a_created_role_starts_with_nothing_and_appears_in_pickers(
    client, staff_client, world, root
):
    await login(client, "/admin/login", ROOT)
    response = await client.submit(
        "/admin/roles",
        {"kind": "operator", "code": "data_analyst", "label": "数据分析员", "reason": "月度报表"},
    )
    assert response.status_code == 303, response.text[:500]
    assert response.headers["location"] == "/admin/roles/operator/data_analyst"
    assert roles.roles_of("operator")["data_analyst"] == "数据分析员"
    assert "data_analyst" not in roles.roles_of("staff")
    entry = await AuditEntry.select().where(AuditEntry.action == "role.create").first()
    assert entry["object_id"] == "operator:data_analyst"
    ticked, versions = await _edit_form(client, "operator", "data_analyst")
    assert ticked == set()

    analyst = await factories.user("operator", "analyst@loanmart.example", "data_analyst")
    assert analyst.permissions == frozenset()
    await login(staff_client, "/admin/login", "analyst@loanmart.example")
    assert (await staff_client.get("/admin/")).status_code == 200
    assert (await staff_client.get("/admin/roles")).status_code == 403  # not even reading
    home = soup(await staff_client.get("/admin/"))
    assert "数据分析员" in home.select_one(".account-menu").text
    assert [a["href"] for a in home.select(".site-nav a")] in ([], ["/admin"])

    response = await client.submit(
        "/admin/roles/operator/data_analyst", _form({"role.view", "audit.view"}, versions, "只读")
    )
    assert response.status_code == 303
    # Same session, next request: the new grants apply without signing in again.
    assert (await staff_client.get("/admin/audit")).status_code == 200
    assert (await staff_client.get("/admin/roles")).status_code == 200
    nav = {a["href"] for a in soup(await staff_client.get("/admin/")).select(".site-nav a")}
    assert {"/admin/audit", "/admin/roles"} <= nav
    # One page of a group is a plain link: no menu to open for a single entry.
    assert not soup(await staff_client.get("/admin/")).select(".site-nav details")


async def test_the_operator_menu_folds_into_groups_marking_the_current_one(client, world, root):
    await login(client, "/admin/login", ROOT)
    page = soup(await client.get("/admin/parameters"))
    nav = page.select_one(".site-nav")
    top = [a.get_text(strip=True) for a in nav.select(".site-nav__list > li > a")]
    assert top == ["概览", "数据看板"]
    groups = {
        d.summary.get_text(strip=True): [a["href"] for a in d.select("a")]
        for d in nav.select("details.nav-group")
    }
    assert list(groups) == ["产品与内容", "机构与结算", "风控与合规", "系统"]
    assert "/admin/parameters" in groups["系统"] and "/admin/audit" in groups["风控与合规"]
    current = nav.select("summary.nav-group__current")
    assert [s.get_text(strip=True) for s in current] == ["系统"]
    assert nav.select_one("a[aria-current='page']")["href"] == "/admin/parameters"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"kind": "borrower", "code": "vip_user", "label": "贵宾"}, "kind"),
        ({"kind": "", "code": "vip_user", "label": "贵宾"}, "kind"),
        ({"kind": "operator", "code": "DROP TABLE", "label": "贵宾"}, "code"),
        ({"kind": "operator", "code": "<script>", "label": "贵宾"}, "code"),
        ({"kind": "operator", "code": "ab", "label": "贵宾"}, "code"),
        ({"kind": "operator", "code": "a" * 41, "label": "贵宾"}, "code"),
        ({"kind": "operator", "code": "ｖｉｐ", "label": "贵宾"}, "code"),
        ({"kind": "operator", "code": "super_admin", "label": "又一个超管"}, "code"),
        ({"kind": "operator", "code": "vip_user", "label": "贵"}, "label"),
        ({"kind": "operator", "code": "vip_user", "label": "长" * 21}, "label"),
        ({"kind": "operator", "code": "vip_user", "label": "贵宾\x00"}, "label"),
        ({"kind": "operator", "code": "vip_user", "label": "贵宾", "reason": ""}, "reason"),
    ],
)
async def test_hostile_role_creation_is_refused_with_what_was_typed(
    client, world, root, form, field
):
    await login(client, "/admin/login", ROOT)
    response = await client.submit("/admin/roles", {"reason": "测试原因", **form})
    assert response.status_code == 400, response.text[:300]
    page = soup(response)
    assert page.select_one(f"#f-{field}").get("aria-invalid") == "true"
    if form["code"] and "\x00" not in form["label"]:
        assert page.select_one("#f-code")["value"] == form["code"]
    assert not await CustomRole.exists()


async def test_one_code_created_in_parallel_has_one_winner(world, root):
    results = await asyncio.gather(
        *(create_role(root, "staff", "auditor_lite", f"只读{i}号", "并行创建") for i in range(4)),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, DomainError) for r in results if r is not None)
    assert await CustomRole.count() == 1
    assert await RoleMatrixChange.count() == 1
