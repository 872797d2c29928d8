"""The project's own error types.

Every problem with a user's input is a :class:`ScenarioError`: one paragraph
that names the file, the YAML path and the line.  The command line turns it
into a message and exit status 2; it never shows a traceback.
"""

from __future__ import annotations


class SedimentError(Exception):
    """Base class for errors Sediment reports to its users."""


class ScenarioError(SedimentError):
    """A scenario file (or an override of it) is not valid.

    ``path`` is the YAML path as a tuple of keys and indices, ``line`` is the
    1-based line in ``source`` (``None`` when the value does not come from the
    file, for example from ``--set``).
    """

    def __init__(self, message: str, *, source: str | None = None,
                 path: tuple = (), line: int | None = None) -> None:
        self.message = message
        self.source = source
        self.path = tuple(path)
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or "<scenario>"
        if self.line is not None:
            where += f", line {self.line}"
        if self.path:
            where += f", at {format_path(self.path)}"
        return f"{where}: {self.message}"


class ScenarioNote(UserWarning):
    """A setting a valid scenario gives that has no effect (``simulator.run``
    warns with it; the command line prints it as a note)."""


def format_path(path: tuple) -> str:
    """``('faults', 0, 'start')`` -> ``faults[0].start``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text
