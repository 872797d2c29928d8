"""End to end: each bundled scenario through the CLI with a fixed seed, then its story."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.history import load as load_history
from simulator.plots import FIGURES
from simulator.scenario import load as load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run every bundled scenario once with seed 2; name -> results folder."""
    folders = {}
    for path in SCENARIOS:
        out = tmp_path_factory.mktemp(path.stem) / "run"
        result = CliRunner().invoke(main, [str(path), "--seed", "2", "--out", str(out)],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "availability" in result.output
        folders[path.stem] = out
    return folders


@pytest.mark.parametrize("name", [p.stem for p in SCENARIOS])
def test_results_folder_is_complete_and_consistent(runs, name):
    out = runs[name]
    summary = json.loads((out / "summary.json").read_text())
    for key in ("scenario", "seed", "version", "ops", "availability", "reads", "windows",
                "phases"):
        assert key in summary, key
    assert summary["seed"] == 2 and summary["scenario"] == name
    assert set(summary["ops"]) >= {"total", "ok", "fail", "info"}
    assert set(summary["reads"]) >= {"ok", "stale", "stale_fraction"}
    assert set(summary["windows"]) >= {"count", "open_at_end", "p50_s", "p99_s", "max_s"}
    for phase in summary["phases"]:
        assert set(phase) >= {"name", "start_s", "end_s", "availability", "stale_fraction"}

    history = load_history(out)
    ops = history.ops
    assert summary["ops"]["total"] == len(ops) > 0
    assert summary["ops"]["ok"] == int((ops["status"] == "ok").sum())
    assert summary["availability"] == pytest.approx((ops["status"] == "ok").mean())
    assert len(summary["phases"]) == 1 + 3 * len(history.faults)
    lost = pd.read_csv(out / "lost_writes.csv")
    assert summary["writes"]["lost"] == len(lost)
    if len(lost):  # the report lists them, the timeline marks them
        assert "Lost writes" in (out / "report.md").read_text()
    windows = pd.read_csv(out / "windows.csv")
    assert summary["windows"]["count"] == len(windows)
    assert summary["windows"]["open_at_end"] == int(windows["open"].sum())

    replay = load_scenario(out / "scenario.yaml")
    assert replay.seed == 2
    assert replay.data == load_scenario(ROOT / "scenarios" / f"{name}.yaml", seed=2).data
    for figure in FIGURES:  # every figure is drawn, a real picture of sensible size
        png = (out / f"{figure}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000, figure
        width, height = struct.unpack(">II", png[16:24])
        assert 800 <= width <= 2400 and 300 <= height <= 1600, (figure, width, height)
        assert f"![{figure}]({figure}.png)" in (out / "report.md").read_text()
    assert "Where the state lives" in (out / "report.html").read_text()


def _during(history, fault_name, frame, column="invoke_s"):
    fault = history.faults.set_index("fault").loc[fault_name]
    return frame[(frame[column] >= fault["start_s"]) & (frame[column] < fault["end_s"])]


def test_slow_writes_story(runs):
    history = load_history(runs["slow-writes"])
    stale = pd.read_csv(runs["slow-writes"] / "stale_reads.csv")
    # The slow replica serves stale reads while its disk is slow, and only it.
    during = _during(history, "slow-replica", stale)
    assert len(during) > 0
    assert set(during["served_by"]) == {"db-replica-1"}
    # The slow primary turns writes into "unknown" (info) ...
    writes = history.ops[history.ops["op"] == "write"]
    slow = _during(history, "slow-primary", writes)
    assert (slow["status"] == "info").mean() > 0.3
    assert (_during(history, "slow-replica", writes)["status"] == "ok").all()
    # ... and most of those writes did commit after the client gave up.
    committed_late = history.truth[history.truth["commit_s"].between(
        *history.faults.set_index("fault").loc["slow-primary", ["start_s", "end_s"]])]
    assert len(committed_late) > (slow["status"] == "ok").sum()


def test_deploy_story(runs):
    history = load_history(runs["deploy"])
    local = history.copy_info[history.copy_info["kind"] == "local"]
    assert sorted(local["copy"]) == [f"api-{i}/local" for i in range(1, 5)]
    deploy = history.faults.iloc[0]
    lost = history.copies[history.copies["change"] == "crash"]
    # Every instance's memory was thrown away once, at its restart, during the deploy.
    assert set(lost["copy"]) == set(local["copy"])
    assert lost["time_s"].between(deploy["start_s"], deploy["end_s"]).all()
    stale = pd.read_csv(runs["deploy"] / "stale_reads.csv")
    assert stale["served_by"].str.endswith("/local").mean() > 0.9
