"""The monitoring figures per product and per institution over a window of days.

- applications: submitted in the window;
- approval rate: approved (or accepted) ÷ decided (approved, accepted or rejected), of those;
- disbursement rate: disbursed loans ÷ approved, of those;
- overdue rate: loans overdue now ÷ loans in force now (disbursed, repaying, overdue) — a
  state of the whole book, not of the window, since a loan needs months to fall overdue;
- complaints: complaints filed in the window, counted by the complaints context, which
  registers its counter when its app loads (`register_complaint_counter`; monitoring does
  not import complaints). A process that has not loaded that app gets None, shown as "—",
  and the complaint rule does not run;
- complaint rate: complaints ÷ applications in the window;
- promised vs actual APR: the listed APR range against the lowest and highest APR of the
  offers made in the window, and how many offers were above the listed range.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketplace.applications.statuses import ApplicationStatus
from marketplace.institutions.statuses import InstitutionStatus
from marketplace.loans.statuses import LoanStatus
from marketplace.monitoring.statuses import UNRESOLVED, Subject
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product

WINDOWS = (30, 90)
# The product page's actual-APR line looks back this far.
DISCLOSURE_DAYS = 90

# subject -> since -> {subject id: complaints in the window}
ComplaintCounter = Callable[[Subject, datetime], Awaitable[Mapping[int, int]]]
_complaint_counter: list[ComplaintCounter] = []


def register_complaint_counter(counter: ComplaintCounter | None) -> None:
    """The hook for the complaints context (A10): it registers how many complaints each
    product / institution received since a moment; None unregisters it."""
    _complaint_counter.clear()
    if counter is not None:
        _complaint_counter.append(counter)


def counting_complaints() -> bool:
    """Whether this process counts complaints (the complaints app has registered)."""
    return bool(_complaint_counter)


def _ratio(part: int, whole: int) -> Decimal | None:
    return Decimal(part) / Decimal(whole) if whole else None


@dataclass(frozen=True)
class Figures:
    subject: Subject
    subject_id: int
    name: str
    institution_id: int
    institution_name: str
    status: str
    applications: int
    decided: int
    approved: int
    disbursed: int
    in_force: int
    overdue: int
    offers: int
    offers_above: int
    actual_apr_min: Decimal | None
    actual_apr_max: Decimal | None
    listed_apr_min: Decimal | None
    listed_apr_max: Decimal | None
    unresolved_cases: int
    complaints: int | None = None

    @property
    def approval_rate(self) -> Decimal | None:
        return _ratio(self.approved, self.decided)

    @property
    def disbursement_rate(self) -> Decimal | None:
        return _ratio(self.disbursed, self.approved)

    @property
    def overdue_rate(self) -> Decimal | None:
        return _ratio(self.overdue, self.in_force)

    @property
    def complaint_rate(self) -> Decimal | None:
        return None if self.complaints is None else _ratio(self.complaints, self.applications)


_DECIDED = (ApplicationStatus.APPROVED, ApplicationStatus.ACCEPTED, ApplicationStatus.REJECTED)
_APPROVED = (ApplicationStatus.APPROVED, ApplicationStatus.ACCEPTED)
_IN_FORCE = (LoanStatus.DISBURSED, LoanStatus.REPAYING, LoanStatus.OVERDUE)
# Products and institutions shown even without activity in the window.
_WATCHED_PRODUCTS = (ProductStatus.LISTED, ProductStatus.PAUSED, ProductStatus.SUSPENDED)
_WATCHED_INSTITUTIONS = (InstitutionStatus.ACTIVE, InstitutionStatus.SUSPENDED)


def _in(values: tuple[str, ...]) -> str:
    """A SQL list of enum values (fixed strings from code, never input)."""
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def _sql(subject: Subject) -> str:
    """One query for either level: `key` groups by product or by institution."""
    key = "product" if subject is Subject.PRODUCT else "institution"
    if subject is Subject.PRODUCT:
        listing = (
            "SELECT p.id, p.name, p.status, p.apr_min, p.apr_max, p.institution AS institution_id,"
            " i.short_name AS institution_name FROM product p"
            " JOIN institution i ON i.id = p.institution"
        )
        watched = f"s.status IN {_in(_WATCHED_PRODUCTS)}"
        case_key = "product"
    else:
        listing = (
            "SELECT i.id, i.short_name AS name, i.status, NULL::numeric AS apr_min,"
            " NULL::numeric AS apr_max, i.id AS institution_id,"
            " i.short_name AS institution_name FROM institution i"
        )
        watched = f"s.status IN {_in(_WATCHED_INSTITUTIONS)}"
        case_key = "institution"
    return f"""
WITH s AS ({listing}),
apps AS (
  SELECT a.{key} AS sid, count(*) AS applications,
         count(*) FILTER (WHERE a.status IN {_in(_DECIDED)}) AS decided,
         count(*) FILTER (WHERE a.status IN {_in(_APPROVED)}) AS approved,
         count(l.id) AS disbursed
  FROM application a LEFT JOIN loan l ON l.application = a.id
  WHERE a.submitted_at >= {{}}
  GROUP BY a.{key}),
book AS (
  SELECT {key} AS sid,
         count(*) FILTER (WHERE status IN {_in(_IN_FORCE)}) AS in_force,
         count(*) FILTER (WHERE status = '{LoanStatus.OVERDUE}') AS overdue
  FROM loan GROUP BY {key}),
offered AS (
  SELECT a.{key} AS sid, count(*) AS offers, min(o.apr) AS apr_min, max(o.apr) AS apr_max,
         count(*) FILTER (WHERE p.apr_max IS NOT NULL AND o.apr > p.apr_max + {{}}) AS above
  FROM offer o JOIN application a ON a.id = o.application JOIN product p ON p.id = a.product
  WHERE o.created_at >= {{}}
  GROUP BY a.{key}),
cases AS (
  SELECT {case_key} AS sid, count(*) AS n FROM monitoring_case
  WHERE status IN {_in(UNRESOLVED)} AND subject_key LIKE '{subject}:%'
  GROUP BY {case_key})
SELECT s.*, coalesce(apps.applications, 0) AS applications,
       coalesce(apps.decided, 0) AS decided, coalesce(apps.approved, 0) AS approved,
       coalesce(apps.disbursed, 0) AS disbursed, coalesce(book.in_force, 0) AS in_force,
       coalesce(book.overdue, 0) AS overdue, coalesce(offered.offers, 0) AS offers,
       coalesce(offered.above, 0) AS offers_above, offered.apr_min AS actual_apr_min,
       offered.apr_max AS actual_apr_max, coalesce(cases.n, 0) AS unresolved_cases
FROM s
LEFT JOIN apps ON apps.sid = s.id
LEFT JOIN book ON book.sid = s.id
LEFT JOIN offered ON offered.sid = s.id
LEFT JOIN cases ON cases.sid = s.id
WHERE {watched} OR apps.sid IS NOT NULL OR coalesce(book.in_force, 0) > 0
ORDER BY s.id
"""  # noqa: S608 - only enum values and column names from this module are interpolated


async def figures(
    subject: Subject, days: int, *, apr_tolerance: Decimal, now: datetime | None = None
) -> list[Figures]:
    """Every watched product (or institution) with its figures over the last `days`."""
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    rows = await Product.raw(_sql(subject), since, apr_tolerance, since)
    complaints: Mapping[int, int] | None = None
    if _complaint_counter:
        complaints = await _complaint_counter[0](subject, since)
    return [
        Figures(
            subject=subject,
            subject_id=row["id"],
            name=row["name"],
            institution_id=row["institution_id"],
            institution_name=row["institution_name"],
            status=row["status"],
            applications=row["applications"],
            decided=row["decided"],
            approved=row["approved"],
            disbursed=row["disbursed"],
            in_force=row["in_force"],
            overdue=row["overdue"],
            offers=row["offers"],
            offers_above=row["offers_above"],
            actual_apr_min=row["actual_apr_min"],
            actual_apr_max=row["actual_apr_max"],
            listed_apr_min=row["apr_min"],
            listed_apr_max=row["apr_max"],
            unresolved_cases=row["unresolved_cases"],
            complaints=None if complaints is None else complaints.get(row["id"], 0),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class ActualApr:
    """The APRs a product's institution actually offered in the last DISCLOSURE_DAYS."""

    low: Decimal
    high: Decimal
    offers: int
    days: int = DISCLOSURE_DAYS


async def actual_apr(product_id: int, min_offers: int) -> ActualApr | None:
    """None below `min_offers` offers: too few to say anything about the product."""
    since = datetime.now(UTC) - timedelta(days=DISCLOSURE_DAYS)
    rows = await Product.raw(
        "SELECT count(*) AS n, min(o.apr) AS low, max(o.apr) AS high FROM offer o"
        " JOIN application a ON a.id = o.application"
        " WHERE a.product = {} AND o.created_at >= {}",
        product_id,
        since,
    )
    row = rows[0]
    if row["n"] < max(min_offers, 1):
        return None
    return ActualApr(low=row["low"], high=row["high"], offers=row["n"])
