"""Records the run into compact columns, converted to a History once at the end.

Rows are appended to ``array`` columns (8 bytes a number) and strings are
interned to small integer codes, so a million operations cost tens of
megabytes, not hundreds.  The conversion makes one copy of each column, put
in operation order on the way, and maps string codes to the interned string
objects only then.
"""

from __future__ import annotations

from array import array

import numpy as np
import pandas as pd

from .history import History


class _Table:
    def __init__(self, columns: dict[str, str]) -> None:
        # typecode 'd' float, 'q' int, 's' interned string (stored as 'l' code)
        self.kinds = columns
        self.columns = {name: array("l" if kind == "s" else kind) for name, kind in columns.items()}

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))


class _Codes(dict):
    """String -> integer code; a string seen for the first time is interned
    (appended to ``strings``) by the lookup itself: one dict lookup a string."""

    def __init__(self, strings: list[str]) -> None:
        super().__init__()
        self.strings = strings

    def __missing__(self, text: str) -> int:
        code = self[text] = len(self.strings)
        self.strings.append(text)
        return code


class Recorder:
    """Append-only recording of client operations, truth, copy changes and faults."""

    def __init__(self) -> None:
        self._strings: list[str] = []
        self._codes = _Codes(self._strings)
        self.ops = _Table({"index": "q", "process": "q", "op": "s", "key": "q",
                           "invoke_s": "d", "complete_s": "d", "status": "s",
                           "version": "q", "served_by": "s", "node": "s", "error": "s"})
        self.truth = _Table({"key": "q", "version": "q", "commit_s": "d", "source": "s",
                             "writer": "q"})
        self.copies = _Table({"time_s": "d", "copy": "s", "key": "q", "version": "q",
                              "change": "s"})
        self._ops_cols = tuple(self.ops.columns.values())
        self._truth_cols = tuple(self.truth.columns.values())
        self._copies_cols = tuple(self.copies.columns.values())
        self.faults: list[dict] = []
        self.copy_info: list[dict] = []
        self.lost: list[tuple] = []    # (source, key, version, time): truth rows lost
        self.events: list[tuple] = []  # (time, node, event, detail)

    def code(self, text: str) -> int:
        """The integer code of a string (interned once)."""
        return self._codes[text]

    def op(self, index, process, op, key, invoke, complete, status, version,
           served_by, node, error) -> None:
        codes = self._codes
        c = self._ops_cols
        c[0].append(index)
        c[1].append(process)
        c[2].append(codes[op])
        c[3].append(key)
        c[4].append(invoke)
        c[5].append(complete)
        c[6].append(codes[status])
        c[7].append(version)
        c[8].append(codes[served_by])
        c[9].append(codes[node])
        c[10].append(codes[error])

    def commit(self, key: int, version: int, time: float, source: str, writer: int) -> int:
        """Record a commit; returns its row, which :meth:`lose` can name later."""
        t = self._truth_cols
        row = len(t[0])
        t[0].append(key)
        t[1].append(version)
        t[2].append(time)
        t[3].append(self.code(source))
        t[4].append(writer)
        return row

    def lose(self, row: int, time: float, how: str) -> None:
        """The commit recorded in ``row`` will never be seen again, and why."""
        self.lost.append((row, time, how))

    def event(self, time: float, node: str, event: str, detail: str = "") -> None:
        """Something a component did on its own: a promotion, a step-down, a resync."""
        self.events.append((time, node, event, detail))

    def copy_change(self, time: float, copy: str, key: int, version: int, change: str) -> None:
        c = self._copies_cols
        codes = self._codes
        c[0].append(time)
        c[1].append(codes[copy])
        c[2].append(key)
        c[3].append(version)
        c[4].append(codes[change])

    def release(self) -> None:
        """Drop the recorded columns (after :meth:`history`): a finished run's
        record is garbage held in reference cycles, which the collector may not
        free for a long time, and at a million operations it is 100 MB."""
        for table in (self.ops, self.truth, self.copies):
            for column in table.columns.values():
                del column[:]

    def _frame(self, table: _Table, order: np.ndarray | None = None) -> pd.DataFrame:
        """The table as a DataFrame of fresh arrays (rows in ``order`` if given)."""
        strings = np.array(self._strings, dtype=object)
        data = {}
        for name, column in table.columns.items():
            kind = table.kinds[name]
            dtype = {"d": np.float64, "q": np.int64, "s": np.int_}[kind]
            values = np.frombuffer(column, dtype=dtype) if len(column) else \
                np.array([], dtype=dtype)
            # a copy, so that no array here holds on to the recorder's buffers
            values = values[order] if order is not None else values.copy()
            data[name] = strings[values] if kind == "s" else values
        return pd.DataFrame(data, copy=False)

    def history(self, meta: dict) -> History:
        index = np.frombuffer(self.ops.columns["index"], dtype=np.int64) \
            if len(self.ops) else np.array([], dtype=np.int64)
        order = None
        if len(index) and (np.diff(index) < 0).any():  # completions come out of order
            order = np.argsort(index, kind="stable")
        del index
        ops = self._frame(self.ops, order)
        return History(ops=ops, truth=self._truth(), copies=self._frame(self.copies),
                       copy_info=pd.DataFrame(self.copy_info, columns=[
                           "copy", "component", "kind", "source", "initial", "learns_stale_by"]),
                       faults=pd.DataFrame(self.faults, columns=[
                           "fault", "kind", "start_s", "end_s", "targets"]),
                       events=pd.DataFrame(self.events, columns=[
                           "time_s", "node", "event", "detail"]),
                       meta=meta)

    def _truth(self) -> pd.DataFrame:
        truth = self._frame(self.truth)
        truth["lost_s"] = np.nan
        truth["lost_how"] = ""
        if self.lost:
            rows, times, hows = zip(*self.lost)
            truth.loc[list(rows), "lost_s"] = times
            truth.loc[list(rows), "lost_how"] = hows
        return truth
