"""Reconciliation over the Open API (issue 9): the month's ledger as one batch (whole or
nothing, each bad row named), once per Idempotency-Key, the result read back and a
discrepancy resolved with a note — only the calling institution's."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from marketplace.loans.tables import Loan
from marketplace.reconciliation.ledger import current_period, period_text, previous_period
from marketplace.reconciliation.tables import DisbursementReport, ReportedDisbursement
from tests.integration.test_open_api import assert_problem, bearer, new_client, token_for
from tests.loan_factories import disbursed_loan, reference_of

PERIOD = previous_period(current_period())
MONTH = period_text(PERIOD)
URL = f"/api/v1/reconciliation/{MONTH}"


def _day(n: int) -> str:
    return (PERIOD + timedelta(days=n)).isoformat()


async def _loan(world, day: int, principal: str) -> str:
    loan_id = await disbursed_loan(world, PERIOD + timedelta(days=day), principal, 6)
    return await reference_of((await Loan.objects().get(Loan.id == loan_id)).application)


async def test_a_ledger_batch_is_matched_read_back_and_resolved(client, world):
    matched = await _loan(world, 1, "5000")
    differs = await _loan(world, 2, "6000")
    auth = bearer(await token_for(client, await new_client(world.staff)))
    ledger = {
        "rows": [
            {"application_reference": matched, "principal": "5000.00", "disbursed_on": _day(1)},
            {
                "application_reference": differs,
                "principal": "6000",
                "disbursed_on": _day(3),
                "loan_number": "JJ-2",
            },
        ]
    }
    response = await client.post(f"{URL}/ledger", json=ledger, headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["period"], body["rows"], body["replaced_report_id"]) == (MONTH, 2, None)
    assert body["summary"]["matched"] == 1 and body["summary"]["date_differs"] == 1

    result = await client.get(f"{URL}?outcome=discrepancies", headers=auth)
    assert result.status_code == 200
    (item,) = result.json()["items"]
    assert (item["application_reference"], item["outcome"], item["state"]) == (
        differs,
        "date_differs",
        "open",
    )
    assert (item["reported_on"], item["platform_on"], item["loan_number"]) == (
        _day(3),
        _day(2),
        "JJ-2",
    )

    resolved = await client.post(
        f"{URL}/resolutions",
        json={"application_reference": differs, "note": "放款日以银行流水为准"},
        headers=auth,
    )
    assert resolved.status_code == 201, resolved.text
    again = await client.post(
        f"{URL}/resolutions", json={"application_reference": differs, "note": "x"}, headers=auth
    )
    assert_problem(again, 409)
    assert_problem(
        await client.post(
            f"{URL}/resolutions", json={"application_reference": differs, "note": " "}, headers=auth
        ),
        422,
    )
    summary = (await client.get(URL, headers=auth)).json()["summary"]
    assert summary["unresolved"] == 0


async def test_a_bad_batch_imports_nothing_and_names_every_row(client, world):
    auth = bearer(await token_for(client, await new_client(world.staff)))
    rows = [
        {"application_reference": "LM1", "principal": "100", "disbursed_on": _day(1)},
        {"application_reference": "LM1", "principal": "100", "disbursed_on": _day(1)},
        {"application_reference": "LM2", "principal": "-1", "disbursed_on": _day(1)},
        {"application_reference": "LM3", "principal": "１００", "disbursed_on": "2001-01-01"},
        {"application_reference": "LM\u0000", "principal": "1e9", "disbursed_on": _day(1)},
    ]
    body = assert_problem(
        await client.post(f"{URL}/ledger", json={"rows": rows}, headers=auth), 422
    )
    assert set(body["errors"]) == {
        "rows[1].application_reference",
        "rows[2].principal",
        "rows[3].principal",
        "rows[3].disbursed_on",
        "rows[4].application_reference",
        "rows[4].principal",
    }
    assert body["errors"]["rows[1].application_reference"] == "与第 1 行申请编号重复"
    assert await DisbursementReport.count() == 0
    for bad_period in ("2026-13", "2999-01", "abcdefg", "２０２６-01"):
        response = await client.post(
            f"/api/v1/reconciliation/{bad_period}/ledger", json={"rows": []}, headers=auth
        )
        assert response.status_code in (404, 422), (bad_period, response.text)
        assert response.status_code != 500
    too_many = {"rows": [rows[0]] * 5001}
    assert_problem(await client.post(f"{URL}/ledger", json=too_many, headers=auth), 422)


async def test_one_idempotency_key_submits_once_even_in_parallel(client, world):
    reference = await _loan(world, 1, "5000")
    auth = bearer(await token_for(client, await new_client(world.staff)))
    ledger = {
        "rows": [{"application_reference": reference, "principal": "5000", "disbursed_on": _day(1)}]
    }
    headers = {**auth, "Idempotency-Key": "ledger-2026-11-v1"}
    responses = await asyncio.gather(
        *(client.post(f"{URL}/ledger", json=ledger, headers=headers) for _ in range(5))
    )
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["report_id"] for r in responses}) == 1
    assert await DisbursementReport.count() == 1
    other = await client.post(f"{URL}/ledger", json={"rows": []}, headers=headers)
    assert "Idempotency-Key" in assert_problem(other, 422)["errors"]
    # A new key is a new submission: it replaces the month's report, which stays as history.
    replaced = await client.post(
        f"{URL}/ledger", json={"rows": []}, headers={**auth, "Idempotency-Key": "ledger-v2"}
    )
    assert replaced.status_code == 201
    assert replaced.json()["replaced_report_id"] == responses[0].json()["report_id"]
    assert await DisbursementReport.count().where(DisbursementReport.is_current.eq(True)) == 1
    assert await ReportedDisbursement.count() == 1


async def test_only_the_callers_institution_and_scopes(client, world):
    ours = await _loan(world, 1, "5000")
    theirs_auth = bearer(await token_for(client, await new_client(world.other_staff)))
    result = (await client.get(URL, headers=theirs_auth)).json()
    assert result["items"] == [] and result["total"] == 0
    ledger = {
        "rows": [{"application_reference": ours, "principal": "5000", "disbursed_on": _day(1)}]
    }
    response = await client.post(f"{URL}/ledger", json=ledger, headers=theirs_auth)
    assert response.json()["summary"]["missing_on_platform"] == 1
    (item,) = (await client.get(URL, headers=theirs_auth)).json()["items"]
    assert (item["outcome"], item["loan_id"], item["lead_id"], item["platform_principal"]) == (
        "missing_on_platform",
        None,
        None,
        None,
    )

    read_only = bearer(
        await token_for(client, await new_client(world.staff, ["reconciliation:read"], "只读"))
    )
    assert (await client.get(URL, headers=read_only)).status_code == 200
    assert_problem(await client.post(f"{URL}/ledger", json=ledger, headers=read_only), 403)
    leads_only = bearer(
        await token_for(client, await new_client(world.staff, ["leads:read"], "线索"))
    )
    assert_problem(await client.get(URL, headers=leads_only), 403)
