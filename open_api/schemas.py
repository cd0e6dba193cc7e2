"""Bodies the Open API reads and writes. Money travels as decimal strings in yuan ("12000.00")
and dates as YYYY-MM-DD, so no value goes through a float; the domain's parsers check every
value as they check the console's forms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct

Text40 = Annotated[str, Meta(max_length=40)]
Money = Annotated[str, Meta(max_length=40, examples=["12000.00"])]
Day = Annotated[str, Meta(max_length=10, examples=["2026-11-30"])]
Note = Annotated[str, Meta(max_length=500)]


class StatusChange(Struct, kw_only=True):
    """A step of the lead's life cycle that needs no form: `review` (start reviewing)."""

    action: Annotated[str, Meta(max_length=40, examples=["review"])]
    note: Note = ""


class Rejection(Struct, kw_only=True):
    reason: Annotated[str, Meta(max_length=40, examples=["income"])]
    note: Note = ""


class OfferTerms(Struct, kw_only=True):
    """Approve the lead by sending the borrower an offer, as on the console's offer form.
    `rate` and the per-period fee rates are percentages ("18.5" = 18.5%)."""

    amount: Money
    term_months: Annotated[int, Meta(ge=1, le=360)]
    repayment_method: Text40
    rate: Annotated[str, Meta(max_length=40, examples=["18"])]
    rate_period: Annotated[str, Meta(max_length=10, examples=["year"])] = "year"
    fee_upfront_amount: Money = ""
    fee_service_rate: Text40 = ""
    fee_guarantee_rate: Text40 = ""
    fee_insurance_rate: Text40 = ""


class Disbursement(Struct, kw_only=True):
    disbursed_on: Day
    amount: Money
    receiving_account: Annotated[str, Meta(max_length=40, examples=["6222020200112233445"])]


class Repayment(Struct, kw_only=True):
    amount: Money
    paid_on: Day
    kind: Annotated[str, Meta(max_length=20, examples=["instalment"])]
    reference: Annotated[str, Meta(max_length=64, examples=["TX20261130001"])]


@dataclass(frozen=True)
class Lead:
    id: int
    reference: str
    status: str
    status_label: str
    product_id: int
    product_name: str
    amount: str
    term_months: int
    city: str | None
    consent_withdrawn: bool
    submitted_at: datetime
    delivered_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class LeadPage:
    items: list[Lead]
    next_cursor: str | None


@dataclass(frozen=True)
class Applicant:
    """What the borrower consented to share; identity and phone stay masked."""

    real_name: str
    id_number_masked: str
    mobile_masked: str
    city: str
    employment_type: str
    monthly_income: str
    # Contact details, masked; empty when the borrower gave none.
    address_masked: str = ""
    contact_name_masked: str = ""
    contact_relation: str = ""
    contact_mobile_masked: str = ""


@dataclass(frozen=True)
class LeadDetail:
    id: int
    reference: str
    status: str
    status_label: str
    product_id: int
    product_name: str
    amount: str
    term_months: int
    submitted_at: datetime
    updated_at: datetime
    consent_withdrawn: bool
    applicant: Applicant | None  # null once the borrower has withdrawn consent
    allowed_actions: list[str]
    purpose: str = ""  # the loan purpose's label; empty for applications before it was asked


@dataclass(frozen=True)
class Reason:
    code: str
    label: str


@dataclass(frozen=True)
class LeadStatus:
    lead_id: int
    status: str


@dataclass(frozen=True)
class OfferMade:
    lead_id: int
    offer_id: int


@dataclass(frozen=True)
class LoanCreated:
    lead_id: int
    loan_id: int


@dataclass(frozen=True)
class RepaymentRecorded:
    loan_id: int
    repayment_id: int


class LedgerRow(Struct, kw_only=True):
    """One disbursement as the institution's ledger has it."""

    application_reference: Annotated[str, Meta(max_length=64, examples=["LM261101ABCDEFGHJK"])]
    principal: Money
    disbursed_on: Day
    loan_number: Annotated[str, Meta(max_length=64, examples=["JJ2026110001"])] = ""


class Ledger(Struct, kw_only=True):
    """The month's whole ledger: it replaces what was reported for the month before."""

    rows: Annotated[list[LedgerRow], Meta(max_length=5000)]


class Resolution(Struct, kw_only=True):
    application_reference: Annotated[str, Meta(max_length=64, examples=["LM261101ABCDEFGHJK"])]
    note: Note


@dataclass(frozen=True)
class ReconciliationSummary:
    matched: int
    amount_differs: int
    date_differs: int
    missing_on_platform: int
    missing_in_report: int
    unresolved: int
    reported_at: datetime | None


@dataclass(frozen=True)
class LedgerSubmitted:
    period: str
    report_id: int
    rows: int
    replaced_report_id: int | None
    summary: ReconciliationSummary


@dataclass(frozen=True)
class ReconciliationItem:
    application_reference: str
    outcome: str
    outcome_label: str
    reported_principal: str | None
    reported_on: str | None
    loan_number: str
    lead_id: int | None
    loan_id: int | None
    platform_principal: str | None
    platform_on: str | None
    difference: str | None
    state: str  # "" (matched) | open | resolved
    note: str
    resolved_at: datetime | None


@dataclass(frozen=True)
class ReconciliationPage:
    period: str
    summary: ReconciliationSummary
    items: list[ReconciliationItem]
    page: int
    total: int


@dataclass(frozen=True)
class ResolutionRecorded:
    period: str
    application_reference: str
    resolution_id: int
