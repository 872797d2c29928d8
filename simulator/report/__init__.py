"""Reports: the terminal summary, report.md and report.html."""

from .document import html, markdown
from .tables import state_map
from .terminal import format_summary

__all__ = ["format_summary", "html", "markdown", "state_map"]
