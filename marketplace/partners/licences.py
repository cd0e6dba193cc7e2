"""The daily licence check (A4 licence expiry tracking).

For every institution in cooperation (approved or active), each licence with an expiry
date: a reminder when the tightest configured lead (30, then 7 days) is reached — once
each, recorded in `licence_reminder` — in-site to the institution's admins and by e-mail
to them and the institution's contact; once expired, the institution is suspended.
"""

from __future__ import annotations

from datetime import date

from marketplace.actors import SYSTEM
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.i18n import N_, _
from marketplace.inbox.services import notify_users
from marketplace.institutions.services import suspend_for_expired_licence
from marketplace.institutions.statuses import InstitutionStatus
from marketplace.institutions.tables import Institution
from marketplace.notifications.services import send_email
from marketplace.parameters.services import get_parameters
from marketplace.partners.notices import institution_admins
from marketplace.partners.tables import LicenceReminder
from marketplace.security import today_in_china

LICENCES: dict[str, tuple[str, str]] = {
    # licence -> (expiry column, label)
    "business": ("business_licence_expires_on", N_("营业执照")),
    "financial": ("licence_expires_on", N_("金融许可证")),
}
WATCHED = [InstitutionStatus.APPROVED, InstitutionStatus.ACTIVE]


def lead_reached(days_left: int, leads: list[int]) -> int | None:
    """The tightest reminder lead `days_left` falls within (7 before 30), or None."""
    reached = [lead for lead in leads if 0 < days_left <= lead]
    return min(reached) if reached else None


async def check_licences(today: date | None = None) -> dict[str, int]:
    today = today or today_in_china()
    leads = [
        int(days)
        for days in (await get_parameters("licence_reminder_days"))["licence_reminder_days"]
    ]
    rows = await Institution.select(
        Institution.id,
        Institution.short_name,
        Institution.contact_email,
        Institution.licence_expires_on,
        Institution.business_licence_expires_on,
    ).where(Institution.status.is_in(WATCHED))
    counts = {"reminded": 0, "suspended": 0}
    for row in rows:
        for licence, (column, label) in LICENCES.items():
            expires_on = row[column]
            if expires_on is None:
                continue
            days_left = (expires_on - today).days
            if days_left <= 0:
                counts["suspended"] += await suspend_for_expired_licence(row["id"], licence)
            elif (lead := lead_reached(days_left, leads)) is not None:
                counts["reminded"] += await _remind(row, licence, _(label), expires_on, lead)
    return counts


async def _remind(row: dict, licence: str, label: str, expires_on: date, lead: int) -> int:
    """1 if this reminder went out now, 0 if it had gone out before."""
    async with transaction():
        inserted = (
            await LicenceReminder.insert(
                LicenceReminder(
                    key=f"{row['id']}:{licence}:{expires_on.isoformat()}:{lead}",
                    institution=row["id"],
                    licence=licence,
                    expires_on=expires_on,
                    days_before=lead,
                )
            )
            .on_conflict(target=LicenceReminder.key, action="DO NOTHING")
            .returning(LicenceReminder.id)
        )
        if not inserted:
            return 0
        title = _(
            "{licence}将于{date}到期，请及时续期并联系平台更新，到期后合作将自动暂停",
            licence=label,
            date=expires_on.isoformat(),
        )
        admins = await institution_admins(row["id"])
        await notify_users(
            [admin["id"] for admin in admins], "institution.licence", title, "/console/"
        )
        addresses = {admin["login_key"] for admin in admins} | {row["contact_email"]} - {""}
        for address in sorted(addresses):
            await send_email(
                address, "institution.licence", f"【LoanMart】{row['short_name']}：{title}"
            )
        await audit(
            SYSTEM,
            "institution.licence_reminder",
            "institution",
            row["id"],
            licence=licence,
            days_before=lead,
        )
    return 1
