from marketplace.contexts import declare_context
from marketplace.documents.tables import Document, DocumentRequest, LibraryDocument

CONTEXT = declare_context(
    "documents",
    __file__,
    [DocumentRequest, LibraryDocument, Document],
    depends_on=("accounts", "applications", "inbox"),
    public=("services", "queries"),
)
APP_CONFIG = CONTEXT.app
