"""Every notebook in notebooks/ runs top to bottom without error, and what it displays needs no network."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .test_repr import offline_problems

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, helsinki):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [out for cell in code for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors
    shown = [(cell.source, out.get("data", {})) for cell in code for out in cell.get("outputs", [])]
    for source, data in shown:
        assert not {"application/javascript", "application/vnd.jupyter.widget-view+json"} & set(data), source
        assert offline_problems(data.get("text/html", "")) == [], source
    maps = [data.get("text/html", "") for _, data in shown if data.get("text/plain", "").startswith("ZoneMap(")]
    assert all(m.startswith("<iframe ") for m in maps)
    assert bool(maps) == (path.stem in {"01-quickstart", "02-what-if", "04-transit"})
