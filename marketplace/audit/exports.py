"""The audit search as a file (.xlsx or CSV); the export is itself audited, with its
filters and row count."""

from __future__ import annotations

from marketplace.actors import Actor
from marketplace.audit.queries import AuditFilters, audit_rows_for_export
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import PermissionDenied
from marketplace.i18n import _
from marketplace.loancalc import SHANGHAI
from marketplace.spreadsheets import Export, export_file

MAX_EXPORT_ROWS = 10_000


async def export_audit(actor: Actor, filters: AuditFilters, file_format: str) -> Export:
    if not actor.can("audit.view"):
        raise PermissionDenied()
    rows = await audit_rows_for_export(filters, limit=MAX_EXPORT_ROWS + 1)
    truncated = len(rows) > MAX_EXPORT_ROWS
    rows = rows[:MAX_EXPORT_ROWS]
    headers = [
        _("时间"),
        _("操作人"),
        _("操作人类型"),
        _("操作人ID"),
        _("操作"),
        _("操作代码"),
        _("对象类型"),
        _("对象编号"),
        _("IP"),
        _("请求号"),
    ]
    cells: list[list[object]] = [
        [
            row.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            row.actor_label,
            row.actor_kind_label,
            row.actor_id or "",
            row.action_label,
            row.action,
            row.object_label,
            row.object_id,
            row.ip,
            row.request_id,
        ]
        for row in rows
    ]
    async with transaction():
        await audit(
            actor,
            "audit.export",
            "audit_log",
            "search",
            filters={key: value for key, value in filters.as_query().items() if value},
            rows=len(rows),
            format=file_format,
        )
    return export_file(
        file_format,
        "audit-log",
        _("审计日志"),
        headers,
        cells,
        limit=MAX_EXPORT_ROWS,
        truncated=truncated,
    )
