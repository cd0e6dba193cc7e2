"""The figures board as a file (.xlsx or CSV), with the page's filters; audited with the
filters and row count. Products and institutions only, no borrower data."""

from __future__ import annotations

from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.i18n import _
from marketplace.money import format_rate
from marketplace.monitoring.queries import BoardFilters, BoardRow, board
from marketplace.monitoring.statuses import Subject
from marketplace.spreadsheets import FORMATS, Export, export_file

__all__ = ["FORMATS", "export_board"]
MAX_EXPORT_ROWS = 10_000


def _rate(value: object) -> str:
    return "" if value is None else format_rate(value)


def _cells(row: BoardRow) -> list[object]:
    f = row.figures
    return [
        f.name,
        f.institution_name,
        row.status_label,
        f.applications,
        _rate(f.approval_rate),
        _rate(f.disbursement_rate),
        f.in_force,
        f.overdue,
        _rate(f.overdue_rate),
        "" if f.complaints is None else f.complaints,
        _rate(f.complaint_rate),
        _rate(f.listed_apr_min),
        _rate(f.listed_apr_max),
        f.offers,
        _rate(f.actual_apr_min),
        _rate(f.actual_apr_max),
        f.offers_above,
        f.unresolved_cases,
    ]


async def export_board(actor: Actor, filters: BoardFilters, file_format: str) -> Export:
    report = await board(actor, filters)
    rows = report.rows[:MAX_EXPORT_ROWS]
    async with transaction():
        await audit(
            actor,
            "monitoring.export",
            "monitoring_board",
            f"{filters.level}:{filters.window}",
            filters=filters.as_query(),
            rows=len(rows),
            format=file_format,
        )
    headers = [
        _("产品") if filters.level is Subject.PRODUCT else _("机构"),
        _("所属机构"),
        _("状态"),
        _("申请数"),
        _("审批通过率"),
        _("放款率"),
        _("在贷笔数"),
        _("逾期笔数"),
        _("逾期率"),
        _("投诉数"),
        _("投诉率"),
        _("标示年化下限"),
        _("标示年化上限"),
        _("批复笔数"),
        _("实际年化最低"),
        _("实际年化最高"),
        _("高于标示上限笔数"),
        _("未结案件"),
    ]
    return export_file(
        file_format,
        f"monitoring-{filters.level}-{filters.window}d",
        _("监控指标"),
        headers,
        [_cells(row) for row in rows],
        limit=MAX_EXPORT_ROWS,
        truncated=len(report.rows) > MAX_EXPORT_ROWS,
    )
