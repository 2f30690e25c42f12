"""The book's structure: clean notebooks, all in the table of contents, pinned tools."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
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


def test_book_root_links_to_the_one_configuration() -> None:
    """`jupyter-book build book` reads the top-level _config.yml and _toc.yml, not copies."""
    book = REPO / "book"
    for name, target in [
        ("_config.yml", "_config.yml"),
        ("_toc.yml", "_toc.yml"),
        ("notebooks", "notebooks"),
    ]:
        assert (book / name).is_symlink(), f"book/{name} must be a link to ../{target}"
        assert (book / name).resolve() == (REPO / target).resolve()


def _imported_modules(source: str) -> set[str]:
    # Notebook cells may hold IPython magics and shell escapes; they import nothing.
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    names = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _requirement_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[<>=!~;\[ ]", line)[0])
    return {_normalize(name) for name in names}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_import_is_a_declared_dependency() -> None:
    """Each third-party module imported anywhere comes from a package in requirements.txt."""
    sources = {
        str(path.relative_to(REPO)): path.read_text()
        for folder in ("notebooks", "tests", "benchmarks", "scripts", "book/_ext")
        for path in (REPO / folder).rglob("*.py")
    }
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        sources[str(path.relative_to(REPO))] = code
    local = {path.stem for path in REPO.rglob("*.py")} | {"fmnist_rnn"}
    declared = _requirement_names((REPO / "requirements.txt").read_text())
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for where, source in sources.items():
        for module in _imported_modules(source) - set(sys.stdlib_module_names) - local:
            if not {_normalize(d) for d in providers.get(module, [module])} & declared:
                missing.setdefault(module, where)
    assert not missing, f"imported but not in requirements.txt: {missing}"


def test_constraints_pin_every_requirement() -> None:
    """constraints.txt (`make lock`) is the complete lock of what requirements.txt asks for."""
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version.strip(), f"constraints.txt: {line!r} is not name==version"
            pins[_normalize(name)] = version.strip()
    requirements = (REPO / "requirements.txt").read_text()
    for name in _requirement_names(requirements):
        assert name in pins, f"{name} is in requirements.txt but not pinned in constraints.txt"
    for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", requirements, re.MULTILINE):
        assert pins[_normalize(name)] == version, f"{name}: requirements and constraints differ"
    assert requirements.strip().splitlines()[-1] == "-e .", "the package is installed last"


def test_tests_stop_once_when_the_data_cannot_be_found(tmp_path: Path) -> None:
    """A wrong FASHION_MNIST_DIR stops the run before any test, with one message."""
    env = {**os.environ, "FASHION_MNIST_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_data.py", "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 4, output
    assert output.count("does not hold the four official Fashion-MNIST files") == 1, output
    assert " passed" not in output and " error" not in output


def _load_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_execution_cache_follows_the_package_not_the_notebooks(tmp_path: Path) -> None:
    """A change to the package gets a new execution cache; a changed chapter does not."""
    cache = _load_script(REPO / "book" / "_ext" / "execution_cache.py")
    (tmp_path / "notebooks" / "fmnist_rnn").mkdir(parents=True)
    module = tmp_path / "notebooks" / "fmnist_rnn" / "data.py"
    module.write_text("A = 1\n")
    chapter = tmp_path / "notebooks" / "01_chapter.ipynb"
    chapter.write_text("{}")
    before = cache.inputs_digest(tmp_path)
    chapter.write_text('{"cells": []}')
    assert cache.inputs_digest(tmp_path) == before
    module.write_text("A = 2\n")
    assert cache.inputs_digest(tmp_path) != before
    # benchmark results in subfolders (repeats/, earlier/) count too
    nested = tmp_path / "benchmarks" / "results" / "repeats" / "run.json"
    nested.parent.mkdir(parents=True)
    nested.write_text("{}")
    with_run = cache.inputs_digest(tmp_path)
    nested.write_text('{"images_per_s": 1}')
    assert cache.inputs_digest(tmp_path) != with_run


def test_offline_check_tells_typeset_from_raw_math() -> None:
    check = _load_script(REPO / "scripts" / "check_offline_book.py")
    typeset = "<p>The state <mjx-container class='MathJax'>h</mjx-container></p>"
    assert check.check_dom(typeset) == []
    raw = "<p>$$h_t = \\tanh(W x_t)$$</p><pre>price = '$$'</pre>"
    problems = check.check_dom(raw)
    assert any("mjx-container" in p for p in problems) and any("'$$'" in p for p in problems)
    assert check.check_dom(typeset + "<pre>\\begin{x}</pre>") == []
