"""The recorded history: the one interface between a run and its analysis.

See ``docs/history.md`` for the tables and their columns.  Analysis code reads
only a :class:`History`; it never touches a live simulation, so a history saved
to disk (:func:`save`) and loaded again (:func:`load`) gives the same numbers.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import csvfile

OPS_COLUMNS = {
    "index": "int64",
    "process": "int64",
    "op": "str",
    "key": "int64",
    "invoke_s": "float64",
    "complete_s": "float64",
    "status": "str",
    "version": "int64",
    "served_by": "str",
    "node": "str",
    "error": "str",
}
TRUTH_COLUMNS = {"key": "int64", "version": "int64", "commit_s": "float64", "source": "str",
                 "writer": "int64", "lost_s": "float64", "lost_how": "str"}
COPIES_COLUMNS = {
    "time_s": "float64",
    "copy": "str",
    "key": "int64",
    "version": "int64",
    "change": "str",
}
COPY_INFO_COLUMNS = {
    "copy": "str",
    "component": "str",
    "kind": "str",
    "source": "str",
    "initial": "str",
    "learns_stale_by": "str",
}
FAULTS_COLUMNS = {
    "fault": "str",
    "kind": "str",
    "start_s": "float64",
    "end_s": "float64",
    "targets": "str",
}

EVENTS_COLUMNS = {
    "time_s": "float64",
    "node": "str",
    "event": "str",
    "detail": "str",
}

TABLES = {
    "ops": OPS_COLUMNS,
    "truth": TRUTH_COLUMNS,
    "copies": COPIES_COLUMNS,
    "copy_info": COPY_INFO_COLUMNS,
    "faults": FAULTS_COLUMNS,
    "events": EVENTS_COLUMNS,
}

#: A version of -1 means "nothing": an empty copy, or an operation whose
#: version is unknown.
NOTHING = -1

#: Columns a hand-made table may leave out, and the value they then take.
OPTIONAL = {("truth", "writer"): NOTHING, ("truth", "lost_s"): float("nan")}


#: Tables added after the first release: a saved history may lack them.
LATER = {"events"}


#: pandas copies data shared between frames when one of them writes to it
#: (always from pandas 3; an option before)
COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or \
    pd.get_option("mode.copy_on_write") is True


def conform(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with exactly the columns and dtypes of ``table``.

    Missing string columns are filled with ``""``; any other missing column is
    an error, because the analysis cannot guess it.  The result never shares
    writes with ``frame``: with copy-on-write it shares its data until either
    side changes it, otherwise it is a copy.
    """
    columns = TABLES[table]
    frame = frame.copy(deep=not COPY_ON_WRITE)
    for name, dtype in columns.items():
        if name not in frame.columns:
            if (table, name) in OPTIONAL:
                frame[name] = OPTIONAL[(table, name)]
                continue
            if dtype != "str":
                raise ValueError(f"history table {table!r} lacks column {name!r}")
            frame[name] = ""
    frame = frame[list(columns)]
    for name, dtype in columns.items():
        column = frame[name]
        if dtype == "str":
            # A column already holding strings is kept: a million operations
            # must not be converted string by string.
            if column.dtype != object or column.isna().any():
                frame[name] = column.fillna("").astype(str).astype(object)
        elif column.dtype != dtype:
            frame[name] = column.astype(dtype)
    return frame.reset_index(drop=True)


def empty(table: str) -> pd.DataFrame:
    """An empty table with the right columns and dtypes."""
    return conform(table, pd.DataFrame({c: [] for c in TABLES[table]}))


@dataclass
class History:
    """What a run recorded: client operations, truth, copy changes, faults."""

    ops: pd.DataFrame
    truth: pd.DataFrame
    copies: pd.DataFrame
    copy_info: pd.DataFrame
    faults: pd.DataFrame
    events: pd.DataFrame = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.events is None:
            self.events = empty("events")
        for table in TABLES:
            setattr(self, table, conform(table, getattr(self, table)))
        self.meta.setdefault("duration_s", _latest_time(self))

    @property
    def duration_s(self) -> float:
        """Length of the run in simulated seconds."""
        return float(self.meta["duration_s"])

    def __repr__(self) -> str:
        name, seed = self.meta.get("scenario", "history"), self.meta.get("seed")
        return (f"<History {name}" + (f" seed={seed}" if seed is not None else "")
                + ": " + ", ".join(f"{len(getattr(self, t))} {t}" for t in TABLES) + ">")


def _latest_time(history: History) -> float:
    times = [0.0]
    for frame, column in (
        (history.ops, "complete_s"),
        (history.truth, "commit_s"),
        (history.copies, "time_s"),
        (history.faults, "end_s"),
    ):
        if len(frame):
            times.append(float(frame[column].max()))
    return max(times)


def save(history: History, folder: str | Path) -> None:
    """Write the history tables as CSV files and ``history.json`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        csvfile.write(getattr(history, table), folder / f"{table}.csv")
    (folder / "history.json").write_text(json.dumps(history.meta, indent=2, sort_keys=True) + "\n")


def load(folder: str | Path) -> History:
    """Read a history written by :func:`save`."""
    folder = Path(folder)
    if not (folder / "history.json").is_file():
        runs = sorted(p.name for p in folder.glob("seed-*") if p.is_dir()) \
            if folder.is_dir() else []
        raise FileNotFoundError(
            f"{folder} holds no history.json: a run's results folder is "
            f"results/<scenario>/seed-<n>" + (f" (here: {', '.join(runs)})" if runs else ""))
    meta = json.loads((folder / "history.json").read_text())
    if not isinstance(meta, dict):
        raise ValueError("history.json must hold a mapping")
    frames = {}
    for table, columns in TABLES.items():
        if table in LATER and not (folder / f"{table}.csv").exists():
            continue  # written by an older version: empty
        dtypes = {c: (object if d == "str" else d) for c, d in columns.items()}
        # a run's tables (history.json names the version that saved them) end
        # with a line break; a hand-written one may not
        _check_whole(folder / f"{table}.csv", saved="version" in meta)
        frames[table] = pd.read_csv(
            folder / f"{table}.csv", dtype=dtypes, keep_default_na=False,
            na_values={c: [""] for c, d in columns.items() if d == "float64"}
        )
    return History(meta=meta, **frames)


def _check_whole(path: Path, saved: bool) -> None:
    """Refuse a table cut short mid-row (a copy or a disk that stopped mid-way):
    pandas would read the fields missing from its last row as empty strings
    without a word.  A table :func:`save` wrote (``saved``) ends with a line
    break; one written by hand may not, and is whole if its last row has every
    field."""
    with open(path, "rb") as file:
        file.seek(0, 2)
        size = file.tell()
        if size == 0:
            raise ValueError(f"{path.name} is empty")
        file.seek(-1, 2)
        if file.read(1) == b"\n":
            return
        if saved:
            raise ValueError(f"{path.name} is cut short: its last line is incomplete")
        file.seek(0)
        header = file.readline()
        file.seek(max(0, size - 65536))
        last = file.read().splitlines()[-1]
    fields = [next(csv.reader([line.decode("utf-8", "replace")]), []) for line in (header, last)]
    if len(fields[1]) != len(fields[0]):
        raise ValueError(f"{path.name} is cut short: its last line has {len(fields[1])} of "
                         f"{len(fields[0])} fields")
