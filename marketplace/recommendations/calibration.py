"""Calibration of the odds model (PRODUCT.md §6.3): for each band, the approval rate the
model predicted against the rate institutions actually decided, over recent applications.

Each decided application submitted in the calibration window gets the band the model
would have given it when it was submitted: from the decisions known at that moment (the
same `counted` rule as a live estimate), its product, its amount and the borrower's
employment type. The application table does not record which band a borrower saw, and
only eligible borrowers can submit, so eligibility holds for every one of them; the band
is therefore computed retrospectively rather than recorded at submission.

The "as of then" tallies come from one sweep over time (a decision starts counting when
it is decided and stops when its submission leaves the window), so a run costs
O(n log n) rather than a tally per application.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from marketplace.recommendations.odds import (
    RATED_BANDS,
    Band,
    Decision,
    Estimate,
    ModelSettings,
    Tally,
)

RATE_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class BandRow:
    band: Band
    applications: int
    approved: int
    predicted_rate: Decimal | None  # the mean of the predicted rates
    actual_rate: Decimal | None  # approved / applications

    def as_json(self) -> dict[str, Any]:
        return {
            "band": str(self.band),
            "applications": self.applications,
            "approved": self.approved,
            "predicted_rate": None if self.predicted_rate is None else str(self.predicted_rate),
            "actual_rate": None if self.actual_rate is None else str(self.actual_rate),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BandRow:
        def rate(value: Any) -> Decimal | None:
            return None if value is None else Decimal(str(value))

        return cls(
            band=Band(data["band"]),
            applications=int(data["applications"]),
            approved=int(data["approved"]),
            predicted_rate=rate(data.get("predicted_rate")),
            actual_rate=rate(data.get("actual_rate")),
        )


def estimates_at_submission(
    history: Sequence[Decision], targets: Sequence[Decision], settings: ModelSettings
) -> list[Estimate]:
    """The estimate for each target as of its submission, in the order of `targets`."""
    # (time, 0 = starts counting / 1 = stops, decision); a decision made after its
    # submission left the window never counts.
    moves: list[tuple[datetime, int, int]] = []
    for index, decision in enumerate(history):
        ends = decision.submitted_at + settings.window
        if decision.decided_at < ends:
            moves.append((decision.decided_at, 0, index))
            # counted while submitted_at + window >= at: it stops for any `at` after `ends`
            moves.append((ends, 1, index))
    moves.sort(key=lambda move: (move[0], move[1]))
    order = sorted(range(len(targets)), key=lambda i: targets[i].submitted_at)
    tally = Tally(settings)
    results: list[Estimate | None] = [None] * len(targets)
    position = 0
    for i in order:
        target = targets[i]
        while position < len(moves) and moves[position][0] < target.submitted_at:
            _, kind, index = moves[position]
            tally.add(history[index], 1 if kind == 0 else -1)
            position += 1
        results[i] = tally.estimate(target.product_id, target.employment_type, target.amount)
    return [estimate for estimate in results if estimate is not None]


def calibrate(
    history: Sequence[Decision],
    now: datetime,
    days: int,
    settings: ModelSettings,
) -> tuple[list[BandRow], int]:
    """Rows for 高/中/低 over the applications submitted within `days` before `now` and
    decided by then; and how many of those had no band (too few decisions at the time)."""
    since = now - timedelta(days=days)
    targets = [d for d in history if since <= d.submitted_at < now and d.decided_at <= now]
    estimates = estimates_at_submission(history, targets, settings)
    rows = []
    for band in RATED_BANDS:
        members = [
            (target, estimate)
            for target, estimate in zip(targets, estimates, strict=True)
            if estimate.band is band
        ]
        count = len(members)
        approved = sum(1 for target, _ in members if target.approved)
        predicted = sum((e.rate for _, e in members if e.rate is not None), Decimal(0))
        rows.append(
            BandRow(
                band=band,
                applications=count,
                approved=approved,
                predicted_rate=(predicted / count).quantize(RATE_PLACES) if count else None,
                actual_rate=(Decimal(approved) / count).quantize(RATE_PLACES) if count else None,
            )
        )
    unknown = sum(1 for estimate in estimates if estimate.band is Band.UNKNOWN)
    return rows, unknown
