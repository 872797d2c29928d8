"""The ``simulate`` command: parse, call the library, report errors as exit status 2.

``simulate SCENARIO`` is short for ``simulate run SCENARIO``.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from pathlib import Path

import click

from . import __version__
from .errors import ScenarioNote, SedimentError
from .scenario.bundled import bundled_folder


class _DefaultToRun(click.Group):
    """A group where an argument that is not a command name means ``run``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _error(error: Exception) -> None:
    click.echo(f"error: {error}", err=True)


def _fail(error: Exception):
    _error(error)
    sys.exit(2)


def _notes(scenario) -> None:
    """The settings the scenario gives that have no effect, one line each."""
    for note in scenario.notes:
        click.echo(f"note: {note}", err=True)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


class _Progress:
    """A progress bar on a terminal, shown only once a run has taken a second."""

    def __init__(self, total: float, enabled: bool, label: str = "simulating") -> None:
        self.total, self.enabled, self.label = total, enabled, label
        self.started = time.monotonic()
        self.bar = None
        self.done = 0.0

    def __call__(self, now: float) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.monotonic() - self.started < 1.0:
                return
            self.bar = click.progressbar(length=1000, label=self.label, file=sys.stderr,
                                         show_eta=True)
            self.bar.__enter__()
        step = int(1000 * now / self.total) - int(self.done)
        if step > 0:
            self.bar.update(step)
            self.done += step

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@click.group(cls=_DefaultToRun, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sediment")
def main():
    """Sediment: see what state costs a distributed system.

    \b
    simulate scenarios/partition.yaml     run a scenario (same as `simulate run ...`)
    simulate check SCENARIO               validate a scenario without running it
    simulate list                         the bundled scenarios
    simulate schema [SECTION]             every scenario key, its default and meaning
    simulate report RESULTS_DIR           re-analyse a saved run
    simulate export RESULTS_DIR           the client history for Jepsen's checkers
    simulate sweep SCENARIO --over ...    many runs over values and seeds, one row each
    """


@main.command()
@click.argument("scenario")
@click.option("--seed", type=int, default=None, help="Run seed (default: the scenario's).")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Results folder (default: results/<scenario>/seed-<n>/).")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override a scenario value, e.g. --set workload.rate=500 (repeatable).")
@click.option("--duration", default=None, help="Override how long clients send operations.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@click.option("--json", "as_json", is_flag=True, help="Print summary.json instead of a table.")
def run(scenario, seed, out, overrides, duration, quiet, as_json):
    """Run SCENARIO, print a summary and write a results folder."""
    from .result import Result
    from .results import check_replaceable, default_folder
    from .scenario import load
    from .world import World
    from .report import format_summary
    try:
        loaded = load(scenario, overrides, seed=seed, duration=duration,
                      duration_from=f"--duration {duration}")
        if not quiet:
            _notes(loaded)
        world = World(loaded, loaded.seed)
        target = Path(out) if out else default_folder({"scenario": loaded.name,
                                                       "seed": loaded.seed})
        check_replaceable(target)  # before spending time on the run
        progress = _Progress(world.end, enabled=not quiet and sys.stderr.isatty())
        try:
            history = world.run(progress)
        finally:
            progress.close()
        result = Result(history, loaded)
        folder = result.save(target)
    except SedimentError as error:
        _fail(error)
    if as_json:
        click.echo(json.dumps(result.summary, indent=2))
    elif not quiet:
        click.echo(format_summary(result.summary))
        click.echo(f"\nresults: {folder}/")


#: The sweep's table on a terminal: column -> header (the CSV has every column).
SWEEP_COLUMNS = {
    "availability_overall": "available",
    "stale_fraction_overall": "stale",
    "availability_during_partitions": "available in splits",
    "stale_fraction_during_partitions": "stale in splits",
    "latency_p99_outside_faults_s": "p99 s outside faults",
}


@main.command()
@click.argument("scenario")
@click.option("--over", "grid", multiple=True, metavar="PATH=VALUES",
              help="Values to try, e.g. --over 'components.cache.ttl=[5s, 30s, 60s]' or "
                   "components.cache.ttl=5s,30s (repeatable: every combination runs).")
@click.option("--seeds", default=None, metavar="SEEDS",
              help="Seeds to run each combination with: 1-10, 1,4,9 (default: the scenario's).")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override a scenario value in every run (repeatable).")
@click.option("--duration", default=None, help="Override how long clients send operations.")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per core).")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Write every column of every run to this CSV file.")
def sweep(scenario, grid, seeds, overrides, duration, processes, out):
    """Run SCENARIO for every combination of values and seeds; one row per run.

    Each row is the run's CAP row: availability and stale fraction overall and
    during partitions, p99 latency outside faults.  With several seeds, each
    combination is then summed up: the mean over its seeds and the half-width
    of its 95% confidence interval.
    """
    from . import csvfile
    from .sweeps import sweep as run_sweep
    try:
        if out and not Path(out).resolve().parent.is_dir():  # before hours of runs
            raise SedimentError(f"{out}: cannot write the table (no folder "
                                f"{Path(out).parent})")
        paths = [_grid_option(g) for g in grid]
        repeated = sorted({p for p, _ in paths if [q for q, _ in paths].count(p) > 1})
        if repeated:
            raise SedimentError(f"--over gives {', '.join(repeated)} more than once: "
                                f"list all its values in one --over")
        seeds = _seeds_option(seeds)
        runs = math.prod(len(values) for _, values in paths) * len(seeds or [None])
        progress = _Progress(runs, enabled=sys.stderr.isatty(), label=f"{runs} runs")
        try:
            with warnings.catch_warnings():  # the sweep's notes, as run prints them
                shown = warnings.showwarning
                warnings.showwarning = lambda message, category, *rest: (
                    click.echo(f"note: {message}", err=True) if category is ScenarioNote
                    else shown(message, category, *rest))
                table = run_sweep(scenario, dict(paths), seeds=seeds,
                                  processes=processes, overrides=overrides, duration=duration,
                                  progress=lambda done, _: progress(done))
        finally:
            progress.close()
        if out:
            try:
                csvfile.write(table, out)
            except OSError as error:
                raise SedimentError(f"{out}: cannot write the table ({error})") from None
    except SedimentError as error:
        _fail(error)
    shown = table[list(table.columns[:len(grid) + 1]) + list(SWEEP_COLUMNS)]
    click.echo(shown.rename(columns=SWEEP_COLUMNS).to_string(
        index=False, na_rep="-", float_format=lambda x: f"{x:.4g}"))
    if table["seed"].nunique() > 1:
        click.echo("\nover the seeds: the mean, and the half-width of its 95% confidence "
                   "interval")
        click.echo(_across_seeds(table, len(grid)).to_string(index=False))
    if out:
        click.echo(f"\n{len(table)} runs: {out}")


def _across_seeds(table, values: int):
    """The sweep's terminal table summed up per combination: 'mean ± half-width'."""
    from .sweeps import across_seeds
    summed = across_seeds(table)
    cells = summed[list(summed.columns[:values + 1])].copy()  # the values and 'seeds'
    for column, header in SWEEP_COLUMNS.items():
        if column not in summed:  # no run had it (no partition: nothing during one)
            cells[header] = "-"
            continue
        cells[header] = [
            "-" if mean != mean else f"{mean:.4g}" + ("" if half != half else f" ± {half:.2g}")
            for mean, half in zip(summed[column], summed[f"{column}_ci"])]
    return cells


def _grid_option(text: str) -> tuple[str, list]:
    """``PATH=[a, b]`` or ``PATH=a,b`` as (path, values)."""
    from .scenario.yamlfile import parse_value
    path, _, values = text.partition("=")
    if path.strip() == "seed":
        raise SedimentError("--over seed=...: give the seeds with --seeds, e.g. --seeds 1-10")
    if not path.strip() or not values.strip():
        raise SedimentError(f"--over takes PATH=VALUES, for example "
                            f"'components.cache.ttl=[5s, 30s]', got {text!r}")
    listed = values.strip().startswith("[")  # [a, b] rather than a,b
    if not listed and not all(p.strip() for p in values.split(",")):
        raise SedimentError(f"--over {text}: a value between commas is empty")
    try:
        parsed = parse_value(values) if listed else \
            [parse_value(part) for part in values.split(",")]
    except SedimentError as error:
        raise SedimentError(f"--over {text}: {getattr(error, 'message', error)}") from None
    if not isinstance(parsed, list) or not parsed:
        raise SedimentError(f"--over {text}: give at least one value, as [a, b] or a,b")
    return path.strip(), parsed


def _seeds_option(text: str | None) -> list[int] | None:
    """``1-10``, ``1,4,9`` or ``3`` as seeds; None for the scenario's own."""
    if text is None:
        return None
    seeds = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise SedimentError(f"--seeds {text}: give seeds as 1-10, 1,4,9 or 3") from None
        if last < first:
            raise SedimentError(f"--seeds {text}: the range {part.strip()} runs backwards")
        if len(seeds) + last - first + 1 > MAX_SEEDS:  # before a list of them is made
            raise SedimentError(f"--seeds {text}: that is more than {MAX_SEEDS:,} seeds "
                                f"(at a second or more a run, days of runs)")
        seeds += range(first, last + 1)
    return seeds


#: The most seeds ``simulate sweep --seeds`` takes (a run is a second or more).
MAX_SEEDS = 100_000


@main.command()
@click.argument("scenario", nargs=-1, required=True)
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Check with these overrides applied.")
@click.option("--resolved", is_flag=True, help="Print the scenario with defaults filled in.")
def check(scenario, overrides, resolved):
    """Validate one or more scenario files without running them.

    Every file is checked; the status is 2 if any of them is broken."""
    from .scenario import load
    broken = 0
    for path in scenario:
        try:
            loaded = load(path, overrides)  # a bundled scenario by name too
        except SedimentError as error:
            _error(error)  # and the next file: all of them are checked
            broken += 1
            continue
        if resolved:
            click.echo(loaded.to_yaml())
        else:
            nodes = sum(len(n) for n in loaded.nodes.values())
            counts = [_count(len(loaded.data["components"]), "component"),
                      _count(nodes, "node"), _count(len(loaded.data["faults"]), "fault")]
            click.echo(f"{path}: ok ({', '.join(counts)}, {loaded.duration:g}s)")
            _notes(loaded)
    if broken:
        sys.exit(2)


@main.command()
@click.argument("section", required=False)
def schema(section):
    """Every scenario key with its type, default and meaning (SECTION filters, e.g. cache)."""
    from .scenario.reference import markdown, sections
    if section and not any(section in title for title in sections()):
        _fail(SedimentError(f"no section of the reference matches {section!r}; sections: "
                            f"{', '.join(sections())}"))
    click.echo(markdown(section))


@main.command(name="list")
@click.option("--folder", type=click.Path(exists=True, file_okay=False), default=None,
              help="Where to look (default: ./scenarios, then the bundled ones).")
def list_(folder):
    """List scenarios with their one-line descriptions."""
    from .scenario import load
    folders = [Path(folder)] if folder else [f for f in (Path("scenarios"), bundled_folder())
                                             if f.is_dir()][:1]
    for path in sorted(p for f in folders for p in f.glob("*.yaml")):
        try:
            description = load(path).description
        except SedimentError as error:
            description = f"(invalid: {error.message if hasattr(error, 'message') else error})"
        click.echo(f"{str(path):<32} {description}")


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["jepsen", "jsonl"]), default="jepsen",
              show_default=True, help="jepsen: EDN for Knossos/Elle; jsonl: JSON lines.")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Output file (default: FOLDER/history.edn or FOLDER/history.jsonl; "
                   "'-' for standard output).")
def export(folder, fmt, out):
    """Export the client history of a saved results FOLDER for other checkers."""
    from .export import export as render
    history = _load_folder(folder)
    try:
        text = render(history, fmt)
    except (ValueError, KeyError, TypeError) as error:
        _fail(SedimentError(f"{folder}: its history cannot be exported ({error})"))
    if out == "-":
        click.echo(text, nl=False)
        return
    path = Path(out) if out else Path(folder) / ("history.edn" if fmt == "jepsen"
                                                 else "history.jsonl")
    try:
        path.write_text(text)
    except OSError as error:
        _fail(SedimentError(f"{path}: cannot write the history ({error.strerror or error})"))
    click.echo(f"{path}: {text.count(chr(10))} events")


def _load_folder(folder):
    from . import history as history_io
    try:
        return history_io.load(folder)
    except (OSError, ValueError, KeyError, TypeError) as error:
        _fail(SedimentError(f"{folder}: not a results folder with a readable history "
                            f"({error})"))


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
def report(folder, quiet):
    """Re-analyse a saved results FOLDER from its history (no simulation)."""
    from .report import format_summary
    from .result import Result
    from .results import write_analysis
    result = Result(_load_folder(folder))
    try:
        write_analysis(result, Path(folder))
    except (ValueError, KeyError, TypeError) as error:
        _fail(SedimentError(f"{folder}: its history cannot be analysed ({error})"))
    if not quiet:
        click.echo(format_summary(result.summary))


if __name__ == "__main__":  # pragma: no cover
    main()
