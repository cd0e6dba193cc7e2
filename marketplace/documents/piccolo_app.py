from marketplace.contexts import declare_context
from marketplace.documents.tables import Document, DocumentRequest

CONTEXT = declare_context(
    "documents",
    __file__,
    [DocumentRequest, Document],
    depends_on=("accounts", "applications", "inbox"),
    public=("services", "queries"),
)
APP_CONFIG = CONTEXT.app
