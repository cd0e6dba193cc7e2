"""/api/v1 loan life cycle: disbursement of an accepted lead, repayments of a loan."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, Response, post
from litestar.params import JSONBody, PathParameter

from marketplace.i18n import N_, _
from marketplace.loancalc import MAX_PRINCIPAL
from marketplace.loans.queries import kind_choices
from marketplace.loans.services import REFERENCE_MAX_LENGTH, report_disbursement, report_repayment
from marketplace.parsing import FormReader, parse_choice, parse_date, parse_money, parse_text
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
        form = FormReader({"disbursed_on": data.disbursed_on, "amount": data.amount})
        disbursed_on = form.field("disbursed_on", parse_date, None, label=_("放款日期"))
        amount = form.field("amount", parse_money, None, label=_("放款金额"))
        form.raise_errors()
        assert disbursed_on is not None and amount is not None
        loan_id = await report_disbursement(
            actor(request), lead_id, disbursed_on, amount, data.receiving_account
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
        form = FormReader(
            {
                "amount": data.amount,
                "paid_on": data.paid_on,
                "kind": data.kind,
                "reference": data.reference,
            }
        )
        amount = form.field(
            "amount", parse_money, None, label=_("还款金额"), maximum=MAX_PRINCIPAL * 2
        )
        paid_on = form.field("paid_on", parse_date, None, label=_("还款日期"))
        kind = form.field("kind", parse_choice, "", choices=kind_choices(), label=_("还款类型"))
        reference = form.field(
            "reference",
            parse_text,
            "",
            label=_("流水号"),
            min_length=1,
            max_length=REFERENCE_MAX_LENGTH,
        )
        form.raise_errors()
        assert amount is not None and paid_on is not None
        repayment_id = await report_repayment(
            actor(request), loan_id, amount, paid_on, kind, reference
        )
        return schemas.RepaymentRecorded(loan_id, repayment_id)

    return await answer(request, idempotency_key, 201, act)


handlers = [disburse, repay]
