"""Roles and permissions (PRODUCT.md A2): every operator reads the matrix; the super admin
grants or revokes cells (with a reason, versioned, audited) and creates roles."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.accounts.role_matrix import (
    EDITABLE_KINDS,
    create_role,
    known_permissions,
    matrix_view,
    recent_changes,
    set_permissions,
)
from marketplace.i18n import _
from marketplace.parsing import first, lenient, parse_int
from server.auth import require_actor
from server.forms import FormData, as_list, submit_form
from server.rendering import flash, redirect_to, render
from server.sessions import end_sessions

VIEW = {"access": "operator", "permission": "role.view"}
MANAGE = {"access": "operator", "permission": "role.manage"}
# The edit form carries each cell's version as `v.<permission>`.
VERSION_FIELD = "v."
MAX_VERSION = 2_000_000_000


async def _matrix_page(
    request: Request, errors: dict[str, str] | None = None, values: dict[str, str] | None = None
) -> Response:
    return await render(
        request,
        "admin/roles.html",
        {
            "matrices": [await matrix_view(kind) for kind in EDITABLE_KINDS],
            "changes": await recent_changes(),
            "kinds": {kind: _(label) for kind, label in EDITABLE_KINDS.items()},
            "errors": errors or {},
            "values": values or {},
        },
        nav="roles",
    )


@get("/roles", name="admin.roles.list", opt=VIEW)
async def roles_list(request: Request) -> Response:
    return await _matrix_page(request)


@post("/roles", name="admin.roles.create", opt=MANAGE)
async def roles_create(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await create_role(
            actor,
            first(data.get("kind")),
            first(data.get("code")).strip(),
            first(data.get("label")).strip(),
            first(data.get("reason")),
        )
        flash(request, _("角色已创建；它还没有任何权限，请在下方为它授予权限"))
        return redirect_to(
            request,
            "admin.roles.edit",
            kind=first(data.get("kind")),
            role=first(data.get("code")).strip(),
        )

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _matrix_page(request, errors, {k: first(v) for k, v in data.items()})

    return await submit_form(request, submit, rerender)


async def _edit_page(
    request: Request,
    kind: str,
    role: str,
    errors: dict[str, str] | None = None,
    data: FormData | None = None,
) -> Response:
    view = await matrix_view(kind, only_role=role)
    return await render(
        request,
        "admin/role_edit.html",
        {
            "matrix": view,
            "role": view.roles[0],
            "errors": errors or {},
            # A refused form shows what was ticked, not what is stored.
            "ticked": set(as_list(data, "permissions")) if data is not None else None,
            "reason": first(data.get("reason")) if data else "",
            "version_field": VERSION_FIELD,
        },
        nav="roles",
    )


@get("/roles/{kind:str}/{role:str}", name="admin.roles.edit", opt=MANAGE)
async def role_edit(request: Request, kind: FromPath[str], role: FromPath[str]) -> Response:
    return await _edit_page(request, kind, role)


@post("/roles/{kind:str}/{role:str}", name="admin.roles.update", opt=MANAGE)
async def role_update(request: Request, kind: FromPath[str], role: FromPath[str]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        seen = {
            permission: lenient(
                parse_int, data.get(VERSION_FIELD + permission), 0, maximum=MAX_VERSION
            )
            for permission in known_permissions(kind)
        }
        changed = await set_permissions(
            actor,
            kind,
            role,
            as_list(data, "permissions"),
            seen,
            first(data.get("reason")),
            end_sessions=end_sessions,
        )
        flash(request, _("已保存 {n} 项权限变更，立即生效", n=changed))
        return redirect_to(request, "admin.roles.list")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _edit_page(request, kind, role, errors, data)

    return await submit_form(request, submit, rerender)


handlers = [roles_list, roles_create, role_edit, role_update]
