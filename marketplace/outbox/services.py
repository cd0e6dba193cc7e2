"""Transactional outbox: jobs are rows written with the change that causes them,
enqueued after commit, and swept again if that enqueue was lost."""

from __future__ import annotations

import json
import logging

from marketplace import jobs
from marketplace.db import engine, on_commit
from marketplace.outbox.tables import OutboxMessage

log = logging.getLogger(__name__)


async def record(job: str, **payload: int | str) -> None:
    """Payloads carry ids only — never personal data."""
    if job not in jobs.JOB_NAMES:
        raise ValueError(f"unknown job {job!r}")
    rows = await OutboxMessage.insert(OutboxMessage(job=job, payload=payload)).returning(
        OutboxMessage.id
    )
    message_id = rows[0]["id"]

    async def dispatch_now() -> None:
        try:
            await dispatch([message_id])
        except Exception:  # the sweeper delivers it later
            log.warning("outbox dispatch of %s failed; left for the sweeper", message_id)

    on_commit(dispatch_now)


async def dispatch(ids: list[int]) -> int:
    """Enqueue undelivered messages among `ids`; safe to race with the sweeper."""
    async with engine().transaction():
        rows = await OutboxMessage.raw(
            "SELECT id, job, payload FROM outbox_message "
            "WHERE id = ANY({}) AND dispatched_at IS NULL FOR UPDATE SKIP LOCKED",
            ids,
        )
        sent = await _enqueue_rows(rows)
    return sent


async def sweep(batch: int = 200, min_age_seconds: int = 5) -> int:
    async with engine().transaction():
        rows = await OutboxMessage.raw(
            "SELECT id, job, payload FROM outbox_message WHERE dispatched_at IS NULL "
            "AND created_at < now() - make_interval(secs => {}) "
            "ORDER BY id LIMIT {} FOR UPDATE SKIP LOCKED",
            min_age_seconds,
            batch,
        )
        sent = await _enqueue_rows(rows)
    return sent


async def _enqueue_rows(rows: list[dict]) -> int:
    for row in rows:
        payload = row["payload"]
        if isinstance(payload, str):
            payload = json.loads(payload)
        await jobs.enqueue(row["job"], job_id=f"outbox-{row['id']}", **payload)
        await OutboxMessage.raw(
            "UPDATE outbox_message SET dispatched_at = now(), attempts = attempts + 1 "
            "WHERE id = {}",
            row["id"],
        )
    return len(rows)
