"""The book's structure: clean notebooks, all in the table of contents, pinned tools."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_chapters() -> None:
    assert any(nb.name.startswith("01_") for nb in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = json.loads(path.read_text())
    dirty = [
        index
        for index, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_cells_have_unique_ids(path: Path) -> None:
    """nbformat 4.5 requires cell ids; without them nbformat warns on every run."""
    notebook = json.loads(path.read_text())
    ids = [cell.get("id") for cell in notebook["cells"]]
    assert (notebook["nbformat"], notebook["nbformat_minor"]) >= (4, 5)
    missing = [index for index, cell_id in enumerate(ids) if cell_id is None]
    assert not missing, f"{path.name}: cells {missing} have no id"
    assert len(set(ids)) == len(ids), f"{path.name}: duplicate cell ids"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_table_of_contents(path: Path) -> None:
    toc = (REPO / "_toc.yml").read_text()
    assert f"notebooks/{path.stem}" in toc, f"{path.name} is missing from _toc.yml"


def test_chapters_open_with_objectives_and_close_with_exercises() -> None:
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join(
            "".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"
        )
        assert "Audience & Objectives" in text, path.name
        assert "## Summary" in text and "## Exercises" in text, path.name


def test_jupyter_book_is_pinned_below_2() -> None:
    requirements = (REPO / "requirements.txt").read_text()
    match = re.search(r"^jupyter-book(.*)$", requirements, re.MULTILINE)
    assert match, "jupyter-book is not in requirements.txt"
    assert re.search(r"<\s*2\b", match.group(1)), "jupyter-book must be capped below 2"
