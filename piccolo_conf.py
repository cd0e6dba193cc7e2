"""For the piccolo CLI run from the project root (`piccolo migrations new … --auto`)."""

from marketplace.piccolo_conf import APP_REGISTRY, DB

__all__ = ["APP_REGISTRY", "DB"]
