"""Same scenario and seed: byte-identical output files.  Another seed: another run."""

from __future__ import annotations

import filecmp
from pathlib import Path

from click.testing import CliRunner

from simulator.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _run(out: Path, seed: int, scenario="partition.yaml", *extra) -> None:
    result = CliRunner().invoke(main, [str(ROOT / "scenarios" / scenario), "--seed", str(seed),
                                       "--out", str(out), "-q", "--duration", "40s",
                                       "--set", "faults.0.start=10s", *extra],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_same_seed_gives_byte_identical_files(tmp_path):
    _run(tmp_path / "a", 11)
    _run(tmp_path / "b", 11)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert "timeline.png" in names and "ops.csv" in names
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names,
                                               shallow=False)
    assert mismatch == [] and errors == []


def test_different_seeds_give_different_runs(tmp_path):
    _run(tmp_path / "a", 11)
    _run(tmp_path / "b", 12)
    assert (tmp_path / "a" / "ops.csv").read_bytes() != (tmp_path / "b" / "ops.csv").read_bytes()
