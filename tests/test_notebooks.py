"""Every notebook in notebooks/ runs from top to bottom without an error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors
    # a cell that ends by drawing a figure shows it as a picture (figures are built
    # without pyplot, so nothing but the figure itself can display them)
    drawing = [cell for cell in notebook.cells if cell.cell_type == "code"
               and re.search(r"(\.timeline\(\)|\.plot\.\w+\(\))\s*$", cell.source)]
    for cell in drawing:
        assert any("image/png" in output.get("data", {}) for output in cell.outputs), \
            cell.source
