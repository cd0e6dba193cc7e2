"""Read models of the outbox: the operators' job list and the figures for /metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from piccolo.custom_types import Combinable

from marketplace import jobs
from marketplace.outbox.tables import OutboxMessage, OutboxStatus


@dataclass(frozen=True)
class JobRow:
    id: int
    job: str
    status: OutboxStatus
    attempts: int
    runs: int
    next_attempt_at: datetime | None
    last_error: str
    created_at: datetime
    done_at: datetime | None

    @property
    def can_retry(self) -> bool:
        return self.status == OutboxStatus.DEAD


@dataclass(frozen=True)
class JobPage:
    rows: list[JobRow]
    total: int
    page: int
    dead: int


@dataclass(frozen=True)
class JobFilters:
    status: OutboxStatus | None
    job: str | None

    @classmethod
    def parse(cls, status: str, job: str) -> JobFilters:
        """Unknown values mean "any": a stale or hand-edited link shows everything."""
        known = status in {member.value for member in OutboxStatus}
        return cls(OutboxStatus(status) if known else None, job if job in jobs.JOB_NAMES else None)


def job_names() -> list[str]:
    return sorted(jobs.JOB_NAMES)


async def list_jobs(filters: JobFilters, page: int, per_page: int) -> JobPage:
    """Newest first; a page past the end shows the last page."""
    where: Combinable = OutboxMessage.id.is_not_null()
    if filters.status is not None:
        where &= OutboxMessage.status == filters.status.value
    if filters.job is not None:
        where &= OutboxMessage.job == filters.job
    total = await OutboxMessage.count().where(where)
    dead = await OutboxMessage.count().where(OutboxMessage.status == OutboxStatus.DEAD.value)
    page = max(1, min(page, -(-total // per_page)))
    rows = (
        await OutboxMessage.select(
            OutboxMessage.id,
            OutboxMessage.job,
            OutboxMessage.status,
            OutboxMessage.attempts,
            OutboxMessage.runs,
            OutboxMessage.next_attempt_at,
            OutboxMessage.last_error,
            OutboxMessage.created_at,
            OutboxMessage.done_at,
        )
        .where(where)
        .order_by(OutboxMessage.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return JobPage(
        rows=[
            JobRow(
                **{
                    **row,
                    "status": OutboxStatus(row["status"]),
                    "next_attempt_at": row["next_attempt_at"]
                    if row["status"] == OutboxStatus.PENDING
                    else None,
                }
            )
            for row in rows
        ],
        total=total,
        page=page,
        dead=dead,
    )


@dataclass(frozen=True)
class JobFigures:
    """Per job name, computed from the table so every worker process is counted."""

    job: str
    rows_by_status: dict[OutboxStatus, int]
    runs: int
    failures: int
    retries: int


@dataclass(frozen=True)
class OutboxFigures:
    jobs: list[JobFigures]
    # Seconds since the oldest pending row that is due now was recorded; 0 when none is.
    lag_seconds: float


async def outbox_figures() -> OutboxFigures:
    rows = await OutboxMessage.raw(
        "SELECT job, "
        "count(*) FILTER (WHERE status = 'pending') AS pending, "
        "count(*) FILTER (WHERE status = 'done') AS done, "
        "count(*) FILTER (WHERE status = 'dead') AS dead, "
        "coalesce(sum(runs), 0) AS runs, "
        # Every run but the successful last run of a done row failed.
        "coalesce(sum(runs), 0) - count(*) FILTER (WHERE status = 'done') "
        "AS failures, "
        "coalesce(sum(greatest(runs - 1, 0)), 0) AS retries "
        "FROM outbox_message GROUP BY job ORDER BY job"
    )
    lag = await OutboxMessage.raw(
        "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) AS lag "
        "FROM outbox_message WHERE status = 'pending' AND next_attempt_at <= now()"
    )
    by_job = {row["job"]: row for row in rows}
    return OutboxFigures(
        jobs=[
            JobFigures(
                job=name,
                rows_by_status={
                    status: int(by_job.get(name, {}).get(status.value, 0))
                    for status in OutboxStatus
                },
                runs=int(by_job.get(name, {}).get("runs", 0)),
                failures=int(by_job.get(name, {}).get("failures", 0)),
                retries=int(by_job.get(name, {}).get("retries", 0)),
            )
            for name in sorted(jobs.JOB_NAMES | by_job.keys())
        ],
        lag_seconds=float(lag[0]["lag"]),
    )
