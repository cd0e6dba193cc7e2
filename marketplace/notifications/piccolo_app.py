from marketplace.contexts import declare_context
from marketplace.notifications.tables import Notification

CONTEXT = declare_context(
    "notifications",
    __file__,
    [Notification],
    jobs={"notifications.deliver": "marketplace.notifications.jobs:deliver_notification_job"},
)
APP_CONFIG = CONTEXT.app
