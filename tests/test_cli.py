"""The `simulate` command: run, check, list, report; errors are exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.history import load as load_history

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--duration", "20s", "--set", "workload.rate=50", "--set", "faults.0.start=5s",
         "--set", "faults.0.duration=5s"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_a_bare_scenario_path_means_run(tmp_path):
    out = tmp_path / "run"
    result = invoke(ROOT / "scenarios/partition.yaml", "--seed", 3, "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    assert "availability" in result.output and "stale reads" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 3
    assert summary["scenario"] == "partition"
    assert summary["ops"]["total"] == len(load_history(out).ops)


def test_run_writes_every_file_and_the_resolved_scenario_replays(tmp_path):
    out = tmp_path / "first"
    assert invoke("run", ROOT / "scenarios/partition.yaml", "--out", out, "--seed", 5, "-q",
                  *SMALL).exit_code == 0
    expected = {"summary.json", "scenario.yaml", "history.json", "ops.csv", "truth.csv",
                "copies.csv", "copy_info.csv", "faults.csv", "events.csv", "windows.csv",
                "stale_reads.csv", "lost_writes.csv", "phases.csv", "timeline.png"}
    assert expected <= {p.name for p in out.iterdir()}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary folder left"
    again = tmp_path / "again"
    assert invoke(out / "scenario.yaml", "--out", again, "-q").exit_code == 0
    for name in ("ops.csv", "copies.csv", "summary.json"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_quiet_prints_nothing_and_json_prints_the_summary(tmp_path):
    result = invoke(ROOT / "scenarios/partition.yaml", "--out", tmp_path / "q", "-q", *SMALL)
    assert result.output == ""
    result = invoke(ROOT / "scenarios/partition.yaml", "--out", tmp_path / "j", "--json",
                    *SMALL)
    assert json.loads(result.output)["ops"]["total"] > 0


def test_an_earlier_results_folder_is_replaced_whole(tmp_path):
    out = tmp_path / "r"
    assert invoke(ROOT / "scenarios/partition.yaml", "--out", out, "-q", *SMALL).exit_code == 0
    (out / "stale-file.txt").write_text("left over from an older run")
    assert invoke(ROOT / "scenarios/partition.yaml", "--out", out, "-q", "--seed", 9,
                  *SMALL).exit_code == 0
    assert not (out / "stale-file.txt").exists()
    assert json.loads((out / "summary.json").read_text())["seed"] == 9


def test_check_validates_without_running(tmp_path):
    result = invoke("check", ROOT / "scenarios/partition.yaml", ROOT / "scenarios/deploy.yaml")
    assert result.exit_code == 0
    assert result.output.count(": ok (") == 2
    resolved = invoke("check", "--resolved", ROOT / "scenarios/partition.yaml").output
    assert "replication: async" in resolved  # a default, filled in


def test_list_shows_bundled_scenarios_with_descriptions():
    result = invoke("list", "--folder", ROOT / "scenarios")
    assert result.exit_code == 0
    for name in ("partition", "slow-writes", "deploy"):
        line = next(line for line in result.output.splitlines() if f"{name}.yaml" in line)
        assert len(line.split(None, 1)[1]) > 20  # a real description


def test_report_reanalyses_a_saved_folder(tmp_path):
    out = tmp_path / "r"
    assert invoke(ROOT / "scenarios/partition.yaml", "--out", out, "-q", *SMALL).exit_code == 0
    summary = (out / "summary.json").read_bytes()
    (out / "summary.json").unlink()
    (out / "timeline.png").unlink()
    result = invoke("report", out)
    assert result.exit_code == 0
    assert (out / "summary.json").read_bytes() == summary
    assert (out / "timeline.png").stat().st_size > 10_000


@pytest.mark.parametrize("args, words", [
    (["check", "nope.yaml"], "no such scenario file"),
    (["run", "{scenario}", "--set", "workload.rate=-1"], "workload.rate"),
    (["{scenario}", "--set", "faults.0.start=500s"], "after the run ends"),
    (["{scenario}", "--duration", "-5s"], "cannot be negative"),
    (["{scenario}", "--set", "components.api.database=nope"], "not a database or quorum"),
    (["sweep", "{scenario}", "--over", "components.cache.ttl=5s,-1s"], "cannot be negative"),
    (["sweep", "{scenario}", "--over", "components.cache.ttl"], "PATH=VALUES"),
    (["sweep", "{scenario}", "--over", "components.cache.ttl=[]"], "at least one value"),
    (["sweep", "{scenario}", "--seeds", "3-1"], "runs backwards"),
    (["sweep", "{scenario}", "--seeds", "one"], "give seeds as"),
    (["sweep", "{scenario}", "--out", "/nonexistent/t.csv"], "cannot write the table"),
    (["sweep", "{scenario}", "--over", "seed=1,2"], "--seeds"),
    (["sweep", "{scenario}", "--over", "components.cache.ttl=5s,,30s"], "is empty"),
    (["sweep", "{scenario}", "--seeds", "1-1000000000"], "more than 100,000 seeds"),
    (["export", str(ROOT / "scenarios"), "--out", "/nonexistent/h.edn"], "not a results"),
    (["sweep", "{scenario}", "--over", "workload.rate=5", "--over", "workload.rate=6"],
     "more than once"),
])
def test_bad_input_is_one_line_and_exit_status_2(args, words):
    scenario = str(ROOT / "scenarios/partition.yaml")
    process = subprocess.run([sys.executable, "-m", "simulator",
                              *[a.format(scenario=scenario) for a in args]],
                             capture_output=True, text=True, timeout=60)
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    assert words in process.stderr
    assert process.stderr.startswith("error: ")
    assert len(process.stderr.strip().splitlines()) == 1


def test_check_reports_every_broken_file_not_only_the_first(tmp_path):
    good = ROOT / "scenarios/partition.yaml"
    empty, broken = tmp_path / "empty.yaml", tmp_path / "broken.yaml"
    empty.write_text("")
    broken.write_text("duration: [\n")
    process = subprocess.run([sys.executable, "-m", "simulator", "check", str(broken),
                              str(good), str(empty)], capture_output=True, text=True,
                             timeout=60)
    assert process.returncode == 2
    assert f"{good}: ok" in process.stdout
    errors = process.stderr.strip().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(f"error: {broken}, line 2: this is not valid YAML")
    assert errors[1].startswith(f"error: {empty}: the file is empty")


def test_export_to_a_folder_that_does_not_exist_is_an_error(tmp_path):
    out = tmp_path / "run"
    assert invoke(ROOT / "scenarios/partition.yaml", "--out", out, "--quiet",
                  "--duration", "70s").exit_code == 0
    result = CliRunner().invoke(main, ["export", str(out), "--out",
                                       str(tmp_path / "missing" / "h.edn")])
    assert result.exit_code == 2
    assert "cannot write the history" in result.output


def test_a_bad_file_error_names_file_line_and_path(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text((ROOT / "scenarios/partition.yaml").read_text()
                    .replace("ttl: 60s", "ttl: sixty"))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "sixty" in text)
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert f"{path}, line {line}, at components.cache.ttl:" in result.output


def test_the_run_reports_progress_along_the_way():
    from simulator.scenario import load
    from simulator.world import World
    seen = []
    world = World(load(ROOT / "scenarios/partition.yaml", duration="10s",
                       overrides=["faults.0.start=2s", "faults.0.duration=2s"]), 1)
    world.run(progress=seen.append)
    assert len(seen) == 200
    assert seen == sorted(seen) and seen[-1] == world.end


def test_progress_bar_only_on_a_terminal_after_a_second(monkeypatch):
    from simulator import cli
    clock = iter([0.0, 0.0, 0.5, 2.0, 2.5])  # hidden created, shown created, two calls
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    hidden = cli._Progress(10.0, enabled=False)
    hidden(5.0)
    assert hidden.bar is None
    shown = cli._Progress(10.0, enabled=True)  # created at t=0
    shown(1.0)                                  # t=0.5: too early for a bar
    assert shown.bar is None
    shown(5.0)                                  # t=2.0: the bar appears at half way
    assert shown.bar is not None and shown.done == 500
    shown.close()


def test_out_never_replaces_a_folder_that_is_not_a_results_folder(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    result = CliRunner().invoke(main, [str(ROOT / "scenarios/partition.yaml"), "--out",
                                       str(precious), "-q", *SMALL])
    assert result.exit_code == 2 and "refusing to replace" in result.output
    assert (precious / "thesis.tex").read_text() == "years of work"
    result = CliRunner().invoke(main, [str(ROOT / "scenarios/partition.yaml"), "--out", ".",
                                       "-q", *SMALL])
    assert result.exit_code == 2 and "of its own" in result.output


def test_report_on_a_damaged_folder_is_an_error_not_a_traceback(tmp_path):
    out = tmp_path / "r"
    assert invoke(ROOT / "scenarios/partition.yaml", "--out", out, "-q", *SMALL).exit_code == 0
    (out / "history.json").write_text("[1, 2]")
    for command in (["report", str(out)], ["export", str(out)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2 and "not a results folder" in result.output


def test_report_on_a_table_cut_short_is_an_error(tmp_path):
    # a cut last row used to be read with its missing fields empty, and the run
    # re-analysed as if it had had that many operations
    out = tmp_path / "r"
    assert invoke(ROOT / "scenarios/partition.yaml", "--out", out, "-q", *SMALL).exit_code == 0
    whole = (out / "ops.csv").read_bytes()
    (out / "ops.csv").write_bytes(whole[:5000])
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 2
    assert "ops.csv is cut short" in result.output
    (out / "ops.csv").write_bytes(b"")
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 2 and "ops.csv is empty" in result.output
    (out / "ops.csv").write_bytes(whole)
    header, first, *rest = (out / "truth.csv").read_text().splitlines(keepends=True)
    fields = first.split(",")
    fields[2] = ""  # commit_s
    (out / "truth.csv").write_text(header + ",".join(fields) + "".join(rest))
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 2
    assert "cannot be analysed (the truth has no commit time" in result.output


def test_schema_prints_a_section_and_refuses_an_unknown_one():
    assert "| `ttl` |" in invoke("schema", "cache").output
    result = CliRunner().invoke(main, ["schema", "bogus"])
    assert result.exit_code == 2 and "no section" in result.output


def test_an_unwritable_results_folder_is_an_error_not_a_traceback(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(main, [str(ROOT / "scenarios/partition.yaml"), "--out",
                                       str(blocker / "run"), "-q", *SMALL])
    assert result.exit_code == 2 and "error:" in result.output


def test_bundled_scenarios_are_found_where_a_regular_install_puts_them(tmp_path, monkeypatch):
    import simulator
    import simulator.cli as cli
    from simulator.scenario import bundled
    installed = tmp_path / "prefix" / "share" / "sediment" / "scenarios"
    installed.mkdir(parents=True)
    (installed / "lesson.yaml").write_text((ROOT / "scenarios" / "quorum.yaml").read_text())
    # an installed package: no scenarios folder next to it
    monkeypatch.setattr(bundled, "__file__",
                        str(tmp_path / "site" / "simulator" / "scenario" / "bundled.py"))
    monkeypatch.setattr(bundled.sys, "prefix", str(tmp_path / "prefix"))
    monkeypatch.chdir(tmp_path)
    assert cli.bundled_folder() == installed
    assert bundled.scenario_path("lesson") == str(installed / "lesson.yaml")
    result = invoke("list")
    assert result.exit_code == 0 and "lesson.yaml" in result.output
    # and by name from Python, as on the command line
    assert simulator.load("lesson").source == str(installed / "lesson.yaml")
    with pytest.raises(simulator.ScenarioError, match="no such scenario file"):
        simulator.load("nonesuch")


def test_sweep_prints_a_row_per_run_and_writes_every_column(tmp_path):
    import simulator
    out = tmp_path / "sweep.csv"
    result = invoke("sweep", ROOT / "scenarios/partition.yaml", "--over",
                    "components.cache.ttl=[1s, 60s]", "--over", "workload.read_fraction=0.5,0.9",
                    "--seeds", "2-3", "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split()[:3] == ["components.cache.ttl", "workload.read_fraction", "seed"]
    # header, a row per run; then over the seeds: title, header, a row per combination;
    # a blank line before each part and the file
    assert len(lines) == 1 + 8 + 1 + 2 + 4 + 2
    assert lines[10].startswith("over the seeds: the mean")
    assert lines[11].split()[:3] == ["components.cache.ttl", "workload.read_fraction", "seeds"]
    assert all(" 2 " in line and "±" in line for line in lines[12:16])
    expected = simulator.sweep(ROOT / "scenarios/partition.yaml",
                               {"components.cache.ttl": ["1s", "60s"],
                                "workload.read_fraction": [0.5, 0.9]}, seeds=[2, 3],
                               duration="20s", overrides=SMALL[3::2])
    written = pd.read_csv(out, keep_default_na=False)
    assert list(written.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)


def test_a_sweep_over_seeds_of_a_scenario_without_a_partition_shows_dashes():
    # nothing is measured during partitions there: the summary says '-', not KeyError
    result = invoke("sweep", ROOT / "scenarios/cache-race.yaml", "--over",
                    "components.cache.ttl=1s,5s", "--seeds", "1-2")
    assert result.exit_code == 0, result.output
    summed = result.output.split("over the seeds")[1].strip().splitlines()[2:]
    assert len(summed) == 2
    assert all(line.split().count("-") == 2 and "±" in line for line in summed)


def test_sweep_shows_its_runs_progress(monkeypatch):
    from simulator import cli
    seen = []

    class Recorded(cli._Progress):
        def __call__(self, now):
            seen.append((now, self.total, self.label))
            super().__call__(now)

    monkeypatch.setattr(cli, "_Progress", Recorded)
    result = invoke("sweep", ROOT / "scenarios/partition.yaml", "--over",
                    "components.cache.ttl=1s,60s", "--seeds", "1-2", *SMALL)
    assert result.exit_code == 0, result.output
    assert seen == [(n, 4, "4 runs") for n in (1, 2, 3, 4)]


def test_a_setting_with_no_effect_is_a_note_on_stderr_and_the_run_goes_on(tmp_path):
    args = [sys.executable, "-m", "simulator", "run", str(ROOT / "scenarios/partition.yaml"),
            "--set", "workload.arrivals=closed", "--set", "workload.clients=2",
            "--duration", "61s", "--out", str(tmp_path / "r")]
    process = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert process.returncode == 0
    assert process.stderr.startswith("note: ") and "at workload.rate: has no effect" \
        in process.stderr
    assert "availability" in process.stdout
    quiet = subprocess.run(args + ["--quiet"], capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""
    checked = CliRunner().invoke(main, ["check", str(ROOT / "scenarios/partition.yaml"),
                                        "--set", "workload.arrivals=closed"])
    assert checked.exit_code == 0
    assert "note: " in checked.output and "at workload.rate" in checked.output


def test_a_hand_written_table_without_a_final_line_break_is_whole(tmp_path):
    out = tmp_path / "r"
    assert invoke(ROOT / "scenarios/partition.yaml", "--out", out, "-q", *SMALL).exit_code == 0
    text = (out / "truth.csv").read_text()
    (out / "truth.csv").write_text(text.rstrip("\n"))
    # a run's table (history.json names the version that saved it) ends with a line
    # break: without one, even a last field cut short ('expire' to 'exp') shows
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 2 and "truth.csv is cut short" in result.output
    # a hand-written history (no version) is whole when its last row has every field
    meta = json.loads((out / "history.json").read_text())
    del meta["version"]
    (out / "history.json").write_text(json.dumps(meta))
    assert len(load_history(out).truth) == text.count("\n") - 1
    (out / "truth.csv").write_text(text.rstrip("\n").rsplit(",", 2)[0])  # two fields short
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 2 and "truth.csv is cut short: its last line has 5 of 7" \
        in result.output
