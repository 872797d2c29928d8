"""The scenarios that come with Sediment, found by name (``partition``)."""

from __future__ import annotations

import sys
from pathlib import Path


def bundled_folder() -> Path:
    """Where the bundled scenarios are: next to the package in a checkout (or an
    editable install), else where a regular install put them
    (``<prefix>/share/sediment/scenarios``)."""
    checkout = Path(__file__).resolve().parent.parent.parent / "scenarios"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "sediment" / "scenarios"


def scenario_path(text):
    """A path as given, or the file of a scenario named without one: ``partition``
    is ``./scenarios/partition.yaml`` if there is one, else the bundled one."""
    path = Path(text)
    if path.exists() or path.suffix or len(path.parts) > 1:
        return text
    for folder in (Path("scenarios"), bundled_folder()):
        candidate = folder / f"{text}.yaml"
        if candidate.exists():
            return str(candidate)
    return text
