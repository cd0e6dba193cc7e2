from marketplace.accounts.tables import BorrowerProfile, User
from marketplace.appconfig import app_config

APP_CONFIG = app_config("accounts", __file__, [User, BorrowerProfile], depends_on=("institutions",))
