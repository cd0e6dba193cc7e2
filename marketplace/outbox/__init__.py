from marketplace.outbox.services import record, record_now

__all__ = ["record", "record_now"]
