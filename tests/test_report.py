"""report.md, report.html and the 'where the state lives' table, from a real run."""

from __future__ import annotations

import base64
import re

import pytest

import simulator
from simulator import report

SCENARIO = {
    "name": "report-test",
    "description": "a cache and a replica in front of a database",
    "duration": "20s",
    "components": {
        "db": {"kind": "database", "replicas": 1},
        "cache": {"kind": "cache", "ttl": "5s"},
        "api": {"kind": "service", "instances": 2, "database": "db", "cache": "cache"},
    },
    "workload": {"target": "api", "rate": 100, "keys": 20},
    "faults": [{"kind": "partition", "groups": [["api-1", "cache"], ["api-2", "db"]],
                "start": "5s", "duration": "5s"}],
}


@pytest.fixture(scope="module")
def result():
    return simulator.run(SCENARIO, seed=2)


def test_state_map_lists_the_truth_and_every_copy(result):
    table = report.state_map(result)
    assert list(table["copy"]) == ["db", "db-primary", "db-replica-1", "cache"]
    truth = table.iloc[0]
    assert truth["kind"] == "source of truth" and truth["component"] == "db"
    cache = table.set_index("copy").loc["cache"]
    assert cache["source of truth"] == "db"
    assert "ttl" in cache["how a reader learns it is stale"]
    served = result.stale_reads[result.stale_reads["served_by"] == "cache"]
    assert cache["stale reads served"] == f"{int(served['stale'].sum())} of {len(served)}"


def test_markdown_report_has_every_section_and_links_the_figures(result):
    text = report.markdown(result, {"timeline": "timeline.png"})
    assert text.startswith("# report-test (seed 2)")
    for heading in ("## Headline", "## Where the state lives", "## Phases", "## Faults"):
        assert heading in text
    assert "![timeline](timeline.png)" in text
    assert "during partition-1" in text


def test_html_report_is_self_contained(result):
    png = b"\x89PNG\r\n\x1a\nfake"
    text = report.html(result, {"timeline": png})
    assert "<table" in text and "Where the state lives" in text
    sources = re.findall(r"src='([^']*)'", text)
    assert sources == ["data:image/png;base64," + base64.b64encode(png).decode()]
    assert "http://" not in text and "https://" not in text


def test_saved_folder_has_reports_and_every_figure(result, tmp_path):
    folder = result.save(tmp_path / "out")
    for name in result.plot.names:
        assert (folder / f"{name}.png").stat().st_size > 10_000
        assert f"({name}.png)" in (folder / "report.md").read_text()
    assert (folder / "report.html").read_text().count("data:image/png;base64,") == \
        len(result.plot.names)


def test_plot_accessor_knows_its_figures(result):
    assert "timeline" in result.plot.names
    figure = result.plot.timeline()
    assert figure.axes
    with pytest.raises(ValueError, match="unknown figure"):
        result.plot("nope")


def test_a_result_shows_its_headline_copies_and_phases_in_a_notebook(result):
    shown = result._repr_html_()
    assert shown.startswith("<h4>report-test (seed 2)</h4>")
    assert [b for b in re.findall(r"<p><b>(.*?)</b></p>", shown)] == [
        "Headline", "Where the state lives", "Phases"]
    assert shown.count("<table") == 3
    assert "during partition-1" in shown and "db-replica-1" in shown
    assert f"<td>{result.summary['ops']['total']} (ok" in shown
    # the scenario's own text is escaped
    marked = simulator.run({**SCENARIO, "description": "<script>x</script>",
                            "duration": "2s", "faults": []}, seed=1)
    assert "<script>" not in marked._repr_html_()
    assert "&lt;script&gt;" in marked._repr_html_()
