"""The credit-health page: today's score with its factors, weights and tips, and the
history of daily snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from marketplace.actors import Actor
from marketplace.credit.score import FACTOR_LABELS, CreditScore, Factor
from marketplace.credit.services import current_score
from marketplace.credit.tables import CreditSnapshot
from marketplace.i18n import _
from marketplace.loancalc import today_shanghai

HISTORY_DAYS = 180


@dataclass(frozen=True)
class HistoryPoint:
    taken_on: date
    score: int
    factors: dict[str, int]


@dataclass(frozen=True)
class CreditHealth:
    current: CreditScore
    total_weight: int
    history: tuple[HistoryPoint, ...]  # oldest first
    factor_labels: tuple[tuple[str, str], ...]  # (factor code, label) in display order

    def share(self, weight: int) -> int:
        """A weight as a whole percentage of all weights."""
        return (200 * weight + self.total_weight) // (2 * self.total_weight)


async def credit_health(actor: Actor) -> CreditHealth:
    borrower_id = actor.user_id or 0
    today = today_shanghai()
    current = await current_score(borrower_id, today)
    rows = (
        await CreditSnapshot.select(
            CreditSnapshot.taken_on, CreditSnapshot.score, CreditSnapshot.factors
        )
        .where(CreditSnapshot.borrower == borrower_id)
        .order_by(CreditSnapshot.taken_on, ascending=False)
        .limit(HISTORY_DAYS)
        .output(load_json=True)
    )
    history = tuple(
        HistoryPoint(r["taken_on"], r["score"], dict(r["factors"])) for r in reversed(rows)
    )
    return CreditHealth(
        current=current,
        total_weight=sum(f.weight for f in current.factors) or 1,
        history=history,
        factor_labels=tuple((f.value, _(FACTOR_LABELS[f])) for f in Factor),
    )
