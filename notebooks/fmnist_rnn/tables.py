"""Result tables in notebooks: one call renders in Jupyter and in the book."""

from __future__ import annotations

import html
from collections.abc import Sequence

from IPython.display import display

__all__ = ["show_table"]


def _html_row(row: Sequence[str], tag: str) -> str:
    return "<tr>" + "".join(f"<{tag}>{html.escape(cell)}</{tag}>" for cell in row) + "</tr>"


def show_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Display a table of a run's numbers as HTML, with Markdown and plain-text fallbacks."""
    markdown = "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        + ["| " + " | ".join(row) + " |" for row in rows]
    )
    table = (
        f"<table><thead>{_html_row(header, 'th')}</thead><tbody>"
        + "".join(_html_row(row, "td") for row in rows)
        + "</tbody></table>"
    )
    display({"text/html": table, "text/markdown": markdown, "text/plain": markdown}, raw=True)
