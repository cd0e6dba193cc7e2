from marketplace.contexts import Cron, declare_context
from marketplace.partners.tables import (
    LicenceReminder,
    PartnerApplication,
    PartnerDocument,
    PartnerMessage,
)

CONTEXT = declare_context(
    "partners",
    __file__,
    [PartnerApplication, PartnerDocument, PartnerMessage, LicenceReminder],
    depends_on=("institutions", "accounts"),
    # Reminders 30 and 7 days before a licence expires; suspension once it has. Each step
    # is recorded, so running more often than daily sends nothing twice.
    jobs={"partners.tell_status": "marketplace.partners.notices:tell_status_job"},
    crons=(Cron("partners.licence_check", "marketplace.partners.licences:check_licences", 3600),),
    public=("services", "queries", "statuses", "credit_code"),
)
APP_CONFIG = CONTEXT.app
