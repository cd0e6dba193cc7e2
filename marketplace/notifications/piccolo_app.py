from marketplace.contexts import declare_context
from marketplace.notifications.tables import Notification, SmsPreference

CONTEXT = declare_context(
    "notifications",
    __file__,
    [Notification, SmsPreference],
    depends_on=("accounts",),  # sms_preference.user_id references app_user (a raw-SQL key)
    jobs={"notifications.deliver": "marketplace.notifications.jobs:deliver_notification_job"},
    public=("services", "queries", "preferences"),
)
APP_CONFIG = CONTEXT.app
