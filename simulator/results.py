"""The results folder, written atomically.

Everything goes into a temporary sibling folder first, which is renamed into
place at the end, so an interrupted run never leaves a half-written folder
that looks complete.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import shutil
import tempfile
import threading
import traceback
from pathlib import Path

from . import csvfile, history as history_io, report
from .errors import SedimentError
from .scenario.yamlfile import dump_yaml

RESULTS_ROOT = Path("results")

#: Draw the figures in a second process while this one writes the tables, when
#: that can help and is safe (see :func:`_figures_in_parallel`).  The files are
#: the same bytes either way.
PARALLEL_FIGURES = True


def default_folder(meta: dict) -> Path:
    return RESULTS_ROOT / str(meta.get("scenario", "scenario")) / f"seed-{meta.get('seed')}"


def write(result, folder) -> Path:
    """Write every output file of ``result`` into ``folder``; return the folder.

    An existing ``folder`` is replaced only when it is empty or an earlier
    results folder: anything else is refused, never deleted.
    """
    folder = Path(folder)
    check_replaceable(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SedimentError(f"{folder}: cannot create the results folder ({error})") from None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    except OSError as error:
        raise SedimentError(f"{folder}: cannot write there ({error})") from None
    try:
        _write_all(result, tmp)
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
            os.replace(folder, old / folder.name)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SedimentError(f"{folder}: cannot write the results folder ({error})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def check_replaceable(folder: Path) -> None:
    """Raise :class:`SedimentError` unless ``folder`` may be written or replaced."""
    if folder.resolve() == Path.cwd().resolve() or folder.name in ("", ".", ".."):
        raise SedimentError(f"{folder}: give a results folder of its own, not the current "
                            "or a parent folder")
    if folder.exists():
        if not folder.is_dir():
            raise SedimentError(f"{folder}: exists and is not a folder")
        if any(folder.iterdir()) and not (folder / "history.json").exists():
            raise SedimentError(f"{folder}: exists, is not empty and is not a results "
                                "folder; refusing to replace it (choose another --out)")


def _write_all(result, folder: Path) -> None:
    history = result.history
    figures = _Figures(result)  # drawn meanwhile, when a second process can
    try:
        history_io.save(history, folder)
        _write_scenario(result, folder)
        write_analysis(result, folder, figures)
    finally:
        figures.close()


def _write_scenario(result, folder: Path) -> None:
    history = result.history
    if result.scenario is not None:
        data = dict(result.scenario.data)
        data["seed"] = history.meta.get("seed")
        (folder / "scenario.yaml").write_text(
            "# The resolved scenario of this run (defaults filled in, durations in seconds).\n"
            "# Run it again with: simulate <this folder>/scenario.yaml\n" + dump_yaml(data))


def write_analysis(result, folder: Path, figures: "_Figures | None" = None) -> None:
    """The files computed from the history: tables, summary, figures, reports."""
    csvfile.write(result.windows, folder / "windows.csv")
    stale = result.stale_reads
    csvfile.write(stale[stale["stale"] | stale["phantom"]], folder / "stale_reads.csv")
    csvfile.write(result.lost_writes, folder / "lost_writes.csv")
    csvfile.write(result.phases, folder / "phases.csv")
    (folder / "summary.json").write_text(
        json.dumps(result.summary, indent=2, allow_nan=False) + "\n")
    images = figures.images() if figures is not None else draw(result)
    for name, image in images.items():
        (folder / f"{name}.png").write_bytes(image)
    (folder / "report.md").write_text(report.markdown(result, {n: f"{n}.png" for n in images}))
    (folder / "report.html").write_text(report.html(result, images))


def draw(result, names=None) -> dict[str, bytes]:
    """The figures ``names`` of ``result`` (every figure by default) as PNG bytes,
    by name, in order."""
    images = {}
    for name in result.plot.names if names is None else names:
        buffer = io.BytesIO()
        result.plot(name).savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        images[name] = buffer.getvalue()
    return images


#: Processes drawing the figures at once, when figures are drawn in parallel.
#: Two share the five figures about evenly, so that a results folder waits for
#: about half the drawing time: scenarios/partition.yaml's folder is written
#: in 1.6 s instead of 2.5 s, a 300k-operation run's in 2.5 s instead of 3.0 s.
DRAWERS = 2

#: Above this many client operations one process draws every figure: this
#: process then writes tables for about as long as the figures take to draw,
#: and a third process on two cores slows both (a 1M-operation folder took
#: 5.8 s with two drawing processes, 5.0 s with one).
ONE_DRAWER_ABOVE = 500_000


def _figures_in_parallel() -> bool:
    """Whether forked children can draw the figures: a second core, the fork start
    method (not on Windows), no other thread in this process (forking a
    threaded process can deadlock the child) and not a daemonic worker process
    (a multiprocessing pool's), which may not have children."""
    return (PARALLEL_FIGURES and (os.cpu_count() or 1) >= 2
            and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1
            and not multiprocessing.current_process().daemon)


class _Figures:
    """The figures of a result, drawn in forked child processes (each a share of
    them) while the parent writes the tables, or drawn here when asked for if
    children cannot be used.  A failure in a child is raised here, as the same
    exception when it can be sent back."""

    def __init__(self, result) -> None:
        self.result = result
        self.children: list = []  # (process, receiving end of its pipe)
        if not _figures_in_parallel():
            return
        # the tables the figures draw from, computed once, here, before the fork
        result.stale_reads, result.windows, result.lost_writes  # noqa: B018
        names = list(result.plot.names)
        drawers = DRAWERS if len(result.history.ops) <= ONE_DRAWER_ABOVE else 1
        context = multiprocessing.get_context("fork")
        for share in (names[i::drawers] for i in range(min(drawers, len(names)))):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_draw_in_child, args=(result, share, send),
                                      daemon=True)
            process.start()
            send.close()
            self.children.append((process, receive))

    def images(self) -> dict[str, bytes]:
        if not self.children:
            return draw(self.result)
        drawn: dict[str, bytes] = {}
        try:
            while self.children:
                process, receive = self.children[0]
                try:
                    status, payload = receive.recv()
                except EOFError:
                    process.join()
                    raise SedimentError(f"drawing the figures failed: the process drawing "
                                        f"them ended with exit code {process.exitcode}") from None
                if status != "ok":
                    raise payload
                drawn.update(payload)
                self.children.pop(0)
                receive.close()
                process.join()  # it has sent everything and is ending
        finally:
            self.close()
        return {name: drawn[name] for name in self.result.plot.names}

    def close(self) -> None:
        """Reap the children not heard from yet; one still drawing (the parent or
        another child failed first) is stopped."""
        children, self.children = self.children, []
        for process, receive in children:
            receive.close()
            if process.is_alive():
                process.terminate()
            process.join()


def _draw_in_child(result, names, send) -> None:
    try:
        images = draw(result, names)
    except BaseException as error:  # noqa: BLE001 - sent back and raised in the parent
        try:
            send.send(("error", error))
        except Exception:  # noqa: BLE001 - the exception does not pickle
            send.send(("error", RuntimeError(
                f"drawing the figures failed:\n{traceback.format_exc()}")))
    else:
        send.send(("ok", images))
    finally:
        send.close()
