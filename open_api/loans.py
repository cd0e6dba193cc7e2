"""/api/v1 loan life cycle: disbursement of an accepted lead, repayments of a loan."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Request, Response, post
from litestar.params import JSONBody, PathParameter

from marketplace.i18n import N_
from marketplace.loans.services import (
    parse_disbursement,
    parse_repayment,
    report_disbursement,
    report_repayment,
)
from open_api import schemas
from open_api.auth import actor
from open_api.problems import problem_responses
from open_api.writes import IdempotencyKey, answer

LOANS = {"access": "public", "scope": "loans:write"}
_PROBLEMS = problem_responses(401, 403, 404, 409, 422, 429)


@post(
    "/v1/leads/{lead_id:int}/disbursement",
    name="api.loans.disburse",
    opt=LOANS,
    summary=N_("登记放款"),
    description=N_("借款人签约后登记放款，按签约条款生成还款计划；放款金额不超过签约金额。"),
    tags=[N_("贷款")],
    status_code=201,
    responses=_PROBLEMS,
    security=[{"oauth2": ["loans:write"]}],
)
async def disburse(
    request: Request,
    lead_id: Annotated[int, PathParameter(description=N_("线索编号（id）"))],
    data: JSONBody[schemas.Disbursement],
    idempotency_key: IdempotencyKey,
) -> Response[schemas.LoanCreated]:
    async def act() -> schemas.LoanCreated:
        paid = parse_disbursement(msgspec.structs.asdict(data))
        loan_id = await report_disbursement(
            actor(request), lead_id, paid.disbursed_on, paid.amount, paid.receiving_account
        )
        return schemas.LoanCreated(lead_id, loan_id)

    return await answer(request, idempotency_key, 201, act)


@post(
    "/v1/loans/{loan_id:int}/repayments",
    name="api.loans.repay",
    opt=LOANS,
    summary=N_("登记还款"),
    description=N_("同一流水号（reference）重复提交返回首次登记的还款，不重复入账。"),
    tags=[N_("贷款")],
    status_code=201,
    responses=_PROBLEMS,
    security=[{"oauth2": ["loans:write"]}],
)
async def repay(
    request: Request,
    loan_id: Annotated[int, PathParameter(description=N_("贷款编号（id）"))],
    data: JSONBody[schemas.Repayment],
    idempotency_key: IdempotencyKey,
) -> Response[schemas.RepaymentRecorded]:
    async def act() -> schemas.RepaymentRecorded:
        paid = parse_repayment(msgspec.structs.asdict(data))
        repayment_id = await report_repayment(
            actor(request), loan_id, paid.amount, paid.paid_on, paid.kind, paid.reference
        )
        return schemas.RepaymentRecorded(loan_id, repayment_id)

    return await answer(request, idempotency_key, 201, act)


handlers = [disburse, repay]
