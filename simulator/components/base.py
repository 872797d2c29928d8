"""What every component shares: a name, its config, its nodes."""

from __future__ import annotations


class Component:
    """A named part of the topology made of one or more nodes.

    Subclasses set ``kind`` and ``schema`` (a record validator's fields, see
    ``simulator.scenario.schema``) and build their nodes in ``__init__``.
    """

    kind = ""
    schema: dict = {}
    #: one line describing the kind, for the docs
    summary = ""

    def __init__(self, name: str, config: dict, world) -> None:
        self.name = name
        self.config = config
        self.world = world
        self.sim = world.sim
        self.network = world.network

    @staticmethod
    def check(config: dict, path: tuple, ctx) -> None:
        """Checks across fields of one component's config; ``ctx.fail(path, ...)``."""

    @staticmethod
    def node_names(name: str, config: dict) -> list[str]:
        """The node names this component will create (known before building)."""
        return [name]

    def copies(self) -> list[dict]:
        """Rows for the history's ``copy_info`` table: the copies this component keeps."""
        return []

    def start(self) -> None:
        """Called once after every component is built, before the clock runs."""
