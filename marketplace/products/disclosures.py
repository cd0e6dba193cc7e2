"""Contingent charges: late fees (罚息), penalties (违约金) and early-repayment fees.

A borrower pays them only if a payment is late or the loan is repaid early, so they are
not cash flows of the loan as agreed and stay outside the APR (which counts every fee the
borrower pays when repaying on schedule). The rules still require them to be shown beside
the price, so a product states each one — "not charged" included; a kind it has not
stated is a missing disclosure that the review lint flags.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from marketplace.i18n import N_, _
from marketplace.money import format_cny


class ContingentKind(StrEnum):
    LATE = "late"
    PENALTY = "penalty"
    EARLY_REPAYMENT = "early_repayment"

    @property
    def label(self) -> str:
        return _(_KIND_LABELS[self])


class Basis(StrEnum):
    NONE = "none"  # disclosed as not charged
    DAILY_RATE = "daily_rate"  # per day, of the overdue principal
    RATE = "rate"  # once, of the overdue instalment (penalty) or the prepaid principal
    AMOUNT = "amount"  # once, a fixed amount in yuan


_KIND_LABELS = {
    ContingentKind.LATE: N_("逾期罚息"),
    ContingentKind.PENALTY: N_("违约金"),
    ContingentKind.EARLY_REPAYMENT: N_("提前还款费"),
}

# The bases each kind may be charged on, and the largest rate (a fraction) each rate
# basis accepts: 0.1% a day is 36% a year, beyond any court-enforceable late charge.
BASES: dict[ContingentKind, tuple[Basis, ...]] = {
    ContingentKind.LATE: (Basis.NONE, Basis.DAILY_RATE),
    ContingentKind.PENALTY: (Basis.NONE, Basis.RATE, Basis.AMOUNT),
    ContingentKind.EARLY_REPAYMENT: (Basis.NONE, Basis.RATE, Basis.AMOUNT),
}
MAX_RATE: dict[ContingentKind, Decimal] = {
    ContingentKind.LATE: Decimal("0.001"),
    ContingentKind.PENALTY: Decimal("0.2"),
    ContingentKind.EARLY_REPAYMENT: Decimal("0.1"),
}
MAX_AMOUNT = Decimal(100_000)

BASIS_LABELS: dict[ContingentKind, dict[Basis, str]] = {
    ContingentKind.LATE: {
        Basis.NONE: N_("不收取"),
        Basis.DAILY_RATE: N_("按逾期本金每日收取（%）"),
    },
    ContingentKind.PENALTY: {
        Basis.NONE: N_("不收取"),
        Basis.RATE: N_("按逾期当期应还金额一次性收取（%）"),
        Basis.AMOUNT: N_("每次逾期收取固定金额（元）"),
    },
    ContingentKind.EARLY_REPAYMENT: {
        Basis.NONE: N_("不收取"),
        Basis.RATE: N_("按提前偿还的本金收取（%）"),
        Basis.AMOUNT: N_("每次提前还款收取固定金额（元）"),
    },
}

# Shown wherever these charges are: why they are not in the APR.
OUTSIDE_APR_NOTE = N_("不计入年化利率，仅在逾期/提前还款时收取")


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}%"


@dataclass(frozen=True)
class ContingentFee:
    kind: ContingentKind
    basis: Basis
    value: Decimal | None = None  # a fraction for rate bases, yuan for AMOUNT, else None

    @property
    def label(self) -> str:
        return self.kind.label

    @property
    def charged(self) -> bool:
        return self.basis is not Basis.NONE

    def describe(self) -> str:
        """How it is charged, in a sentence a borrower understands."""
        value = self.value or Decimal(0)
        if self.basis is Basis.NONE:
            return _("不收取")
        if self.basis is Basis.DAILY_RATE:
            return _("按逾期本金每日 {rate}", rate=_percent(value))
        if self.basis is Basis.AMOUNT:
            if self.kind is ContingentKind.PENALTY:
                return _("每次逾期 {amount}", amount=format_cny(value))
            return _("每次提前还款 {amount}", amount=format_cny(value))
        if self.kind is ContingentKind.PENALTY:
            return _("逾期当期应还金额的 {rate}（一次性）", rate=_percent(value))
        return _("提前偿还本金的 {rate}", rate=_percent(value))

    def to_dict(self) -> dict[str, str | None]:
        return {
            "kind": str(self.kind),
            "basis": str(self.basis),
            "value": None if self.value is None else str(self.value),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContingentFee:
        value = data.get("value")
        return cls(
            kind=ContingentKind(data["kind"]),
            basis=Basis(data["basis"]),
            value=None if value is None else Decimal(str(value)),
        )


def load(raw: str | Iterable[Mapping[str, Any]] | None) -> tuple[ContingentFee, ...]:
    """From the JSONB column (text or parsed), in the order of ContingentKind."""
    items = json.loads(raw) if isinstance(raw, str) else (raw or [])
    fees = {ContingentFee.from_dict(item).kind: ContingentFee.from_dict(item) for item in items}
    return tuple(fees[kind] for kind in ContingentKind if kind in fees)


def missing(fees: Iterable[ContingentFee]) -> list[ContingentKind]:
    """The kinds a product has not disclosed (charged or not)."""
    stated = {fee.kind for fee in fees}
    return [kind for kind in ContingentKind if kind not in stated]
