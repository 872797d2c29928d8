"""Components register by kind here, in one place."""

from .cache import Cache
from .database import Database
from .service import Service

KINDS = {cls.kind: cls for cls in (Database, Cache, Service)}

__all__ = ["KINDS", "Cache", "Database", "Service"]
