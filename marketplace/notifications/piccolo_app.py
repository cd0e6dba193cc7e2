from marketplace.contexts import declare_context
from marketplace.notifications.tables import Notification, SmsPreference

CONTEXT = declare_context(
    "notifications",
    __file__,
    [Notification, SmsPreference],
    jobs={"notifications.deliver": "marketplace.notifications.jobs:deliver_notification_job"},
    public=("services", "queries", "preferences"),
)
APP_CONFIG = CONTEXT.app
