"""The borrower's saved application profile (P5): shown masked, edited with the apply
forms' own rules, prefilled (in clear) only on its owner's own edit form."""

from __future__ import annotations

from litestar import Request, Response, get, post

from marketplace.accounts.profiles import (
    CONTACT_RELATIONS,
    masked_profile,
    own_profile,
    update_profile,
)
from marketplace.applications.applicant import PERSON_FIELDS, form_values, parse_profile
from marketplace.i18n import _, translated
from marketplace.parsing import first
from marketplace.products.catalog import EMPLOYMENT_TYPES
from server.auth import require_actor
from server.forms import FormData, submit_form
from server.rendering import flash, redirect_to, render

BORROWER = {"access": "borrower"}


@get("/me/profile", name="portal.profile.view", opt=BORROWER)
async def profile_view(request: Request) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/profile.html",
        {
            "profile": await masked_profile(actor.user_id or 0),
            "employment_types": translated(EMPLOYMENT_TYPES),
            "relations": translated(CONTACT_RELATIONS),
        },
        nav="me",
    )


async def _edit_form(request: Request, values: dict[str, str], errors: dict[str, str]) -> Response:
    return await render(
        request,
        "portal/profile_edit.html",
        {
            "values": values,
            "errors": errors,
            "employment_types": translated(EMPLOYMENT_TYPES),
            "relations": translated(CONTACT_RELATIONS),
        },
        nav="me",
    )


@get("/me/profile/edit", name="portal.profile.edit", opt=BORROWER)
async def profile_edit(request: Request) -> Response:
    actor = await require_actor(request)
    return await _edit_form(request, form_values(await own_profile(actor)), {})


@post("/me/profile/edit", name="portal.profile.update", opt=BORROWER)
async def profile_update(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await update_profile(actor, parse_profile(data))
        flash(request, _("资料已保存，下次申请时会自动填写"))
        return redirect_to(request, "portal.profile.view")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _edit_form(
            request, {key: first(data.get(key)) for key in PERSON_FIELDS}, errors
        )

    return await submit_form(request, submit, rerender)


handlers = [profile_view, profile_edit, profile_update]
