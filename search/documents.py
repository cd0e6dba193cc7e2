"""The one shape of data that goes into a search index.

Only public catalogue data lives here: a product and its institution's public name.
Nothing about borrowers, applications or accounts is ever indexed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

CATEGORIES: tuple[str, ...] = ("consumer", "business", "car", "mortgage", "credit_card")


@dataclass(frozen=True)
class ProductDocument:
    id: int
    name: str
    institution_id: int
    institution_name: str
    category: str
    category_label: str
    summary: str
    tags: list[str]
    repayment_methods: list[str]
    cities: list[str]  # empty = nationwide
    employment_types: list[str]
    amount_min: int  # yuan
    amount_max: int  # yuan
    term_min: int  # months
    term_max: int  # months
    term_options: list[int]
    apr_min: float  # fraction: 0.0725 = 7.25 %
    apr_max: float
    approval_rate: float  # fraction
    popularity: int
    listed_at: int  # unix seconds
    promoted: bool

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown product category {self.category!r}")
        if self.amount_min > self.amount_max:
            raise ValueError("amount_min must not exceed amount_max")
        if self.term_min > self.term_max:
            raise ValueError("term_min must not exceed term_max")

    @property
    def nationwide(self) -> bool:
        return not self.cities

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProductDocument:
        """Build from a dict; keys that are not fields (e.g. an engine's extras) are ignored."""
        return cls(
            id=int(data["id"]),
            name=str(data["name"]),
            institution_id=int(data["institution_id"]),
            institution_name=str(data["institution_name"]),
            category=str(data["category"]),
            category_label=str(data["category_label"]),
            summary=str(data["summary"]),
            tags=[str(t) for t in data["tags"]],
            repayment_methods=[str(m) for m in data["repayment_methods"]],
            cities=[str(c) for c in data["cities"]],
            employment_types=[str(e) for e in data["employment_types"]],
            amount_min=int(data["amount_min"]),
            amount_max=int(data["amount_max"]),
            term_min=int(data["term_min"]),
            term_max=int(data["term_max"]),
            term_options=[int(t) for t in data["term_options"]],
            apr_min=float(data["apr_min"]),
            apr_max=float(data["apr_max"]),
            approval_rate=float(data["approval_rate"]),
            popularity=int(data["popularity"]),
            listed_at=int(data["listed_at"]),
            promoted=bool(data["promoted"]),
        )
