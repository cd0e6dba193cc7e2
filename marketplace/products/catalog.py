"""Vocabulary of the catalogue: categories, employment types, terms (statuses: statuses.py)."""

from __future__ import annotations

from marketplace.i18n import N_

CATEGORIES: dict[str, str] = {
    "consumer": N_("消费贷"),
    "business": N_("经营贷"),
    "car": N_("车贷"),
    "mortgage": N_("房抵贷"),
    "credit_card": N_("信用卡"),
}

EMPLOYMENT_TYPES: dict[str, str] = {
    "employee": N_("企业员工"),
    "civil_servant": N_("公务员/事业单位"),
    "business_owner": N_("企业主"),
    "self_employed": N_("个体工商户"),
    "freelancer": N_("自由职业"),
}

TERM_CHOICES = (1, 3, 6, 9, 12, 18, 24, 36, 48, 60, 120, 240, 360)
