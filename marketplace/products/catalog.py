"""Vocabulary of the catalogue: categories, employment types, terms (statuses: statuses.py)."""

from __future__ import annotations

from marketplace.categories.defaults import CATEGORIES as DEFAULT_CATEGORIES
from marketplace.i18n import N_

# The codes and shipped names; operators rename, reorder and hide them (categories context).
CATEGORIES = DEFAULT_CATEGORIES

EMPLOYMENT_TYPES: dict[str, str] = {
    "employee": N_("企业员工"),
    "civil_servant": N_("公务员/事业单位"),
    "business_owner": N_("企业主"),
    "self_employed": N_("个体工商户"),
    "freelancer": N_("自由职业"),
}

TERM_CHOICES = (1, 3, 6, 9, 12, 18, 24, 36, 48, 60, 120, 240, 360)
