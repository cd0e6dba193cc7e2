"""The ordering rules of the product list (PRODUCT.md A6): which sorts are offered, in
which order. Every save is a new version; the portal reads the latest on each request."""

from __future__ import annotations

from litestar import Request, Response, get, post

from marketplace.i18n import _
from marketplace.parsing import FormReader, column_length, first, parse_int, parse_text
from marketplace.ranking.queries import current_rules, rules_history
from marketplace.ranking.rules import SORT_RULES
from marketplace.ranking.services import save_ordering_rules
from marketplace.ranking.tables import OrderingRules
from server.auth import require_actor
from server.forms import FormData, submit_form
from server.rendering import flash, redirect_to, render

MANAGE = {"access": "operator", "permission": "catalogue.manage"}


async def _page(
    request: Request, values: dict[str, str] | None, errors: dict[str, str]
) -> Response:
    current = await current_rules()
    if values is None:
        # The form as the rules stand: offered sorts numbered in their order.
        values = {f"position_{code}": str(i) for i, code in enumerate(current.sorts, 1)}
        values |= {f"offer_{code}": "1" for code in current.sorts}
    return await render(
        request,
        "admin/ordering.html",
        {
            "current": current,
            "history": await rules_history(),
            "rules": [
                (code, _(rule.label), _(rule.explanation), rule.fixed)
                for code, rule in SORT_RULES.items()
            ],
            "values": values,
            "errors": errors,
        },
        nav="ordering",
    )


@get("/ordering", name="admin.ordering.edit", opt=MANAGE)
async def edit(request: Request) -> Response:
    return await _page(request, None, {})


@post("/ordering", name="admin.ordering.save", opt=MANAGE)
async def save(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        form = FormReader(data)
        chosen: list[tuple[int, int, str]] = []
        for index, (code, rule) in enumerate(SORT_RULES.items()):
            key = f"position_{code}"
            # A blank position keeps the sort's place in the declared order.
            position = index + 1
            if first(data.get(key)).strip():
                position = form.field(
                    key,
                    parse_int,
                    position,
                    label=_("“{sort}”的位置", sort=_(rule.label)),
                    minimum=1,
                    maximum=len(SORT_RULES),
                )
            if rule.fixed or first(data.get(f"offer_{code}")):
                chosen.append((position, index, code))
        note = form.field(
            "note",
            parse_text,
            "",
            label=_("修改说明"),
            max_length=column_length(OrderingRules.note),
        )
        form.raise_errors()
        version = await save_ordering_rules(actor, [code for *_, code in sorted(chosen)], note)
        flash(request, _("排序规则已更新为第 {version} 版，立即生效", version=version))
        return redirect_to(request, "admin.ordering.edit")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, {k: first(v) for k, v in data.items()}, errors)

    return await submit_form(request, submit, rerender)


handlers = [edit, save]
