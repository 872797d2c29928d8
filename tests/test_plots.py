"""The timeline figure renders, for a small run, an empty one and a large one."""

import subprocess
import sys

from conftest import large_history, make_history
from matplotlib.figure import Figure

from simulator.analysis import stale_reads, windows
from simulator.plots import timeline

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small_run():
    return make_history(
        ops=[
            ("write", 0, 0.5, 0.52, "ok", 1, "db-primary"),
            ("read", 0, 1.5, 1.51, "ok", 0, "replica"),
            ("read", 0, 2.5, 3.5, "info", -1, ""),
            ("write", 1, 3.0, 3.0, "fail", -1, ""),
            ("read", 1, 6.0, 6.02, "ok", 0, "cache"),
        ],
        truth=[(0, 1, 0.52), (1, 1, 5.0)],
        copies=[(2.0, "replica", 0, 1), (4.0, "cache", 0, 7, "fill"), (7.0, "cache", 0, -1, "expire")],
        copy_info=[("replica", "v0"), ("cache", "empty")],
        faults=[("partition-1", "partition", 1.0, 3.0), ("deploy-1", "deploy", 6.5, 7.5)],
        duration=10,
        meta={"scenario": "tiny", "seed": 3},
    )


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 10_000


def test_timeline_of_a_small_run_renders_to_png(tmp_path):
    history = small_run()
    figure = timeline(history, stale=stale_reads(history), windows=windows(history))
    assert isinstance(figure, Figure)
    top, bottom = figure.axes[:2]
    assert top.get_yscale() == "log"
    assert "latency" in top.get_ylabel() and "(s" in top.get_ylabel()
    assert bottom.get_xlabel() == "simulated time (s)"
    assert [t.get_text().split("\n")[0] for t in bottom.get_yticklabels()] == ["replica", "cache"]
    assert "tiny" in figure.get_suptitle()
    figure.savefig(tmp_path / "timeline.png")
    assert_png(tmp_path / "timeline.png")


def test_timeline_without_analysis_tables_renders(tmp_path):
    timeline(small_run()).savefig(tmp_path / "bare.png")
    assert_png(tmp_path / "bare.png")


def test_timeline_of_an_empty_history_renders(tmp_path):
    history = make_history()
    figure = timeline(history, stale=stale_reads(history), windows=windows(history))
    figure.savefig(tmp_path / "empty.png")
    assert_png(tmp_path / "empty.png")


def test_timeline_subsamples_a_large_run(tmp_path):
    history = large_history(120_000, keys=200)
    figure = timeline(history, stale=stale_reads(history), windows=windows(history))
    assert "one operation in 3 drawn" in figure.get_suptitle()
    drawn = sum(len(c.get_offsets()) for c in figure.axes[0].collections)
    assert drawn <= 2 * 50_000
    figure.savefig(tmp_path / "large.png", dpi=50)
    assert_png(tmp_path / "large.png")


def test_plots_never_import_pyplot():
    code = "import sys, simulator.plots; print('matplotlib.pyplot' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
