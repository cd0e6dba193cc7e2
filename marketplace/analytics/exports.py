"""Every table of the dashboard and the reports as .xlsx or CSV, in full digits; each
export audited with the table, the range and the row count. No borrower data in any."""

from __future__ import annotations

from marketplace.actors import Actor
from marketplace.analytics.period import Period
from marketplace.analytics.queries import DataTable, dashboard, export_cells, report
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import NotFound
from marketplace.spreadsheets import FORMATS, Export, export_file

__all__ = ["FORMATS", "export_dashboard_table", "export_report_table"]
MAX_EXPORT_ROWS = 10_000


async def _export(
    actor: Actor, where: str, table: DataTable, period: Period, file_format: str
) -> Export:
    if file_format not in FORMATS:
        raise NotFound()
    headers, rows = export_cells(table)
    async with transaction():
        await audit(
            actor,
            "analytics.export",
            where,
            table.key,
            filters=period.as_query(),
            rows=len(rows),
            format=file_format,
        )
    return export_file(
        file_format,
        f"{where}-{table.key}-{period.start.isoformat()}-{period.end.isoformat()}",
        table.title[:31],
        headers,
        rows[:MAX_EXPORT_ROWS],
        limit=MAX_EXPORT_ROWS,
        truncated=len(rows) > MAX_EXPORT_ROWS,
    )


async def export_dashboard_table(
    actor: Actor, period: Period, key: str, file_format: str, sort: str, descending: bool
) -> Export:
    board = await dashboard(actor, period, sort, descending)
    figure = board.figure(key)
    if figure is None:
        raise NotFound()
    return await _export(actor, "dashboard", figure.table, period, file_format)


async def export_report_table(actor: Actor, period: Period, key: str, file_format: str) -> Export:
    figures = await report(actor, period)
    figure = figures.figure(key)
    if figure is None:
        raise NotFound()
    return await _export(actor, "report", figure.table, period, file_format)
