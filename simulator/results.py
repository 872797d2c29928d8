"""The results folder, written atomically.

Everything goes into a temporary sibling folder first, which is renamed into
place at the end, so an interrupted run never leaves a half-written folder
that looks complete.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

from . import csvfile, history as history_io, report
from .errors import SedimentError
from .scenario.yamlfile import dump_yaml

RESULTS_ROOT = Path("results")


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
    history_io.save(history, folder)
    if result.scenario is not None:
        data = dict(result.scenario.data)
        data["seed"] = history.meta.get("seed")
        (folder / "scenario.yaml").write_text(
            "# The resolved scenario of this run (defaults filled in, durations in seconds).\n"
            "# Run it again with: simulate <this folder>/scenario.yaml\n" + dump_yaml(data))
    write_analysis(result, folder)


def write_analysis(result, folder: Path) -> None:
    """The files computed from the history: tables, summary, figures, reports."""
    csvfile.write(result.windows, folder / "windows.csv")
    stale = result.stale_reads
    csvfile.write(stale[stale["stale"] | stale["phantom"]], folder / "stale_reads.csv")
    csvfile.write(result.lost_writes, folder / "lost_writes.csv")
    csvfile.write(result.phases, folder / "phases.csv")
    (folder / "summary.json").write_text(
        json.dumps(result.summary, indent=2, allow_nan=False) + "\n")
    images = {}
    for name in result.plot.names:
        buffer = io.BytesIO()
        result.plot(name).savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        images[name] = buffer.getvalue()
        (folder / f"{name}.png").write_bytes(images[name])
    (folder / "report.md").write_text(report.markdown(result, {n: f"{n}.png" for n in images}))
    (folder / "report.html").write_text(report.html(result, images))
