from marketplace.outbox.services import record

__all__ = ["record"]
