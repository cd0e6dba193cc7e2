"""bench/gen_volume.py: the volume generator the dashboards' benchmark runs on makes data
the contexts could have made themselves — every constraint holds, statuses follow the
transition tables, timelines run forward and stop at now, money adds up — in its own
database, never the one it is pointed at, and a second run leaves it alone."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

from marketplace.applications.statuses import APPLICATION_MACHINE, ApplicationStatus
from marketplace.dburl import engine_config
from marketplace.loans.statuses import DpdBucket, LoanStatus
from marketplace.offers.statuses import OfferStatus
from tests.conftest import (
    BASE_DATABASE_URL,
    E2E_ENV,
    NAMESPACE,
    PROJECT_ROOT,
    WORKER,
    _with_database,
)

ROWS = 500
DATABASE = f"loanmart_bench_volume_t_{NAMESPACE}{WORKER}".lower()


async def _generate(*args: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "DATABASE_URL": _with_database(BASE_DATABASE_URL, "postgres"),
        # The generator flushes its Redis db before seeding: the e2e server's, idle here.
        "REDIS_URL": E2E_ENV["REDIS_URL"],
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "bench/gen_volume.py",
        "--no-write",
        *args,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


@pytest.fixture(scope="module")
async def volume() -> AsyncIterator[asyncpg.Connection]:
    code, output = await _generate(
        "--rows", str(ROWS), "--days", "60", "--database", DATABASE, "--reset", "--batch", "200"
    )
    assert code == 0, output
    connection = await asyncpg.connect(**engine_config(_with_database(BASE_DATABASE_URL, DATABASE)))
    yield connection
    await connection.close()
    admin = await asyncpg.connect(**engine_config(_with_database(BASE_DATABASE_URL, "postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_every_application_has_its_consent_history_and_a_valid_status(volume):
    counts = await volume.fetchrow(
        "SELECT count(*) AS apps, count(DISTINCT consent) AS consents,"
        " count(DISTINCT institution) AS institutions, count(DISTINCT product) AS products,"
        " count(DISTINCT city) AS cities, min(submitted_at) AS first, max(submitted_at) AS last"
        " FROM application WHERE reference LIKE 'BV%'"
    )
    assert counts["apps"] == ROWS and counts["consents"] == ROWS
    assert counts["institutions"] >= 10 and counts["products"] >= 30 and counts["cities"] >= 15
    assert counts["last"] <= datetime.now(UTC)
    assert (counts["last"] - counts["first"]).days >= 50  # spread over the 60 days asked
    statuses = {r["status"] for r in await volume.fetch("SELECT DISTINCT status FROM application")}
    assert statuses <= {str(s) for s in ApplicationStatus}
    assert {"rejected", "approved", "accepted", "withdrawn"} <= statuses
    # The consent is the borrower's, to the application's institution.
    assert not await volume.fetchval(
        "SELECT count(*) FROM application a JOIN consent c ON c.id = a.consent"
        " WHERE c.borrower <> a.borrower OR c.institution <> a.institution"
    )


async def test_status_histories_follow_the_transition_table_forward_in_time(volume):
    rows = await volume.fetch(
        "SELECT a.id, a.status, a.submitted_at, a.delivered_at,"
        " array_agg(e.status ORDER BY e.at, e.id) AS steps, array_agg(e.at ORDER BY e.at, e.id) AS ats"
        " FROM application a JOIN application_event e ON e.application = a.id"
        " WHERE a.reference LIKE 'BV%' GROUP BY a.id"
    )
    assert len(rows) == ROWS
    now = datetime.now(UTC)
    for row in rows:
        steps = row["steps"]
        assert steps[0] == "submitted" and steps[-1] == row["status"], row
        assert row["ats"][0] == row["submitted_at"] and row["ats"][-1] <= now
        for before, after in zip(steps, steps[1:], strict=False):
            targets = {t.target for t in APPLICATION_MACHINE.transitions(before).values()}
            assert after in targets, (before, after)
        assert (row["delivered_at"] is not None) == ("delivered" in steps)


async def test_offers_signatures_and_loans_belong_to_the_right_applications(volume):
    assert not await volume.fetchval(
        "SELECT count(*) FROM offer o JOIN application a ON a.id = o.application"
        " WHERE a.reference LIKE 'BV%' AND (a.status NOT IN ('approved', 'accepted')"
        " OR o.borrower <> a.borrower OR o.institution <> a.institution)"
    )
    assert not await volume.fetchval(
        "SELECT count(*) FROM offer o JOIN application a ON a.id = o.application"
        " WHERE (a.status = 'accepted') <> (o.status = 'signed')"
    )
    offer_statuses = {r["status"] for r in await volume.fetch("SELECT DISTINCT status FROM offer")}
    assert offer_statuses <= {str(s) for s in OfferStatus} and "signed" in offer_statuses
    assert await volume.fetchval(
        "SELECT count(*) FROM offer WHERE status = 'signed' AND application IN"
        " (SELECT id FROM application WHERE reference LIKE 'BV%')"
    ) == await volume.fetchval(
        "SELECT count(*) FROM offer_signature s JOIN offer o ON o.id = s.offer"
        " JOIN application a ON a.id = o.application WHERE a.reference LIKE 'BV%'"
    )
    assert not await volume.fetchval(
        "SELECT count(*) FROM loan l JOIN application a ON a.id = l.application"
        " WHERE a.status <> 'accepted' OR l.principal <> a.amount OR l.borrower <> a.borrower"
    )
    assert (
        await volume.fetchval(
            "SELECT count(*) FROM loan l JOIN application a ON a.id = l.application"
            " WHERE a.reference LIKE 'BV%'"
        )
        > ROWS // 10
    )


async def test_loans_add_up_and_carry_the_overdue_state_the_daily_run_would_give(volume):
    loans = await volume.fetch(
        "SELECT l.id, l.status, l.dpd, l.dpd_bucket, l.principal, l.principal_outstanding,"
        " l.term_months, l.settled_on, count(i.id) AS instalments,"
        " sum(i.principal_due) AS due, sum(i.principal_paid) AS paid,"
        " count(*) FILTER (WHERE i.status <> 'paid' AND i.due_on < CURRENT_DATE) AS missed"
        " FROM loan l JOIN loan_instalment i ON i.loan = l.id"
        " JOIN application a ON a.id = l.application WHERE a.reference LIKE 'BV%' GROUP BY l.id"
    )
    assert loans
    seen = set()
    for loan in loans:
        seen.add(loan["status"])
        assert loan["status"] in {str(s) for s in LoanStatus}
        assert loan["dpd_bucket"] in {str(b) for b in DpdBucket}
        assert loan["instalments"] == loan["term_months"]
        assert loan["due"] == loan["principal"]
        assert loan["principal_outstanding"] == loan["principal"] - loan["paid"]
        assert (loan["status"] == "overdue") == (loan["missed"] > 0) == (loan["dpd"] > 0)
        assert (loan["status"] == "settled") == (loan["settled_on"] is not None)
        if loan["status"] == "settled":
            assert loan["principal_outstanding"] == Decimal(0)
    assert "repaying" in seen or "disbursed" in seen


async def test_billing_follows_delivery_and_disbursement_and_sequences_move_on(volume):
    assert not await volume.fetchval(
        "SELECT count(*) FROM billing_event b JOIN application a ON a.id = b.application"
        " WHERE a.reference LIKE 'BV%' AND ((b.kind = 'cpl' AND a.delivered_at IS NULL)"
        " OR (b.kind = 'cps' AND NOT EXISTS (SELECT 1 FROM loan l WHERE l.id = b.loan"
        " AND l.application = a.id)))"
    )
    for table in ("application", "application_event", "consent", "loan", "loan_instalment"):
        last = await volume.fetchval(f"SELECT last_value FROM {table}_id_seq")  # noqa: S608
        assert last >= await volume.fetchval(f"SELECT max(id) FROM {table}")  # noqa: S608


async def test_behaviour_events_are_pseudonymous_and_come_before_each_application(volume):
    if not await volume.fetchval("SELECT to_regclass('analytics_event') IS NOT NULL"):
        pytest.skip("this checkout has no analytics context")
    figures = await volume.fetchrow(
        "SELECT count(*) AS events, count(DISTINCT visitor) AS visitors, max(at) AS last,"
        " array_agg(DISTINCT kind) AS kinds FROM analytics_event WHERE visitor LIKE 'bv%'"
    )
    # One visitor per application, a random one: never a user's or an application's id.
    assert figures["visitors"] == ROWS and figures["events"] >= 5 * ROWS
    assert figures["last"] <= datetime.now(UTC)
    assert {
        "product_view", "search", "calculator_use", "filter_use", "apply_form_opened",
        "apply_submitted", "consent_given",
    } <= set(figures["kinds"])  # fmt: skip
    numbers = [r["id"] for r in await volume.fetch("SELECT id FROM app_user")]
    numbers += [r["id"] for r in await volume.fetch("SELECT id FROM application")]
    ids = {str(n) for n in numbers} | {f"{n:x}" for n in numbers}
    visitors = await volume.fetch("SELECT DISTINCT visitor FROM analytics_event")
    assert not any(r["visitor"].removeprefix("bv").lstrip("0") in ids for r in visitors)
    # Searches carry their text and result count, not a product; zero-result ones exist.
    assert not await volume.fetchval(
        "SELECT count(*) FROM analytics_event WHERE kind = 'search'"
        " AND (query = '' OR result_count IS NULL OR product IS NOT NULL)"
    )
    assert await volume.fetchval(
        "SELECT count(*) FROM analytics_event WHERE kind = 'search' AND result_count = 0"
    )


async def test_a_second_run_leaves_the_generated_database_alone(volume):
    before = await volume.fetchval("SELECT count(*) FROM application")
    code, output = await _generate("--rows", "50", "--database", DATABASE)
    assert code == 0 and "already holds" in output, output
    assert await volume.fetchval("SELECT count(*) FROM application") == before


@pytest.mark.parametrize(
    "name", ["loanmart", "postgres", "loanmart_test_gw0", "loanmart_bench;drop"]
)
async def test_only_a_bench_database_can_be_the_target(name):
    code, output = await _generate("--rows", "10", "--database", name)
    assert code == 2 and "--database must start with loanmart_bench" in output
