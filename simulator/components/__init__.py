"""Components register by kind here, in one place."""

from .cache import Cache
from .database import Database
from .quorum import QuorumStore
from .service import Service

KINDS = {cls.kind: cls for cls in (Database, QuorumStore, Cache, Service)}

#: kinds that are a source of truth: services read and write them
STORES = ("database", "quorum")

__all__ = ["KINDS", "STORES", "Cache", "Database", "QuorumStore", "Service"]
