"""Tables in notebooks: one renderer, Markdown text, shown as HTML in Jupyter and the book."""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["markdown_table", "show_table"]


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None
) -> str:
    """A Markdown table; ``align``: one letter per column, ``l`` or ``r`` (default: all ``l``)."""
    rule = {"l": "---", "r": "---:"}
    align = align or "l" * len(header)
    if len(align) != len(header) or any(len(row) != len(header) for row in rows):
        raise ValueError(f"every row and the alignment need {len(header)} columns")
    return "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "|".join(rule[a] for a in align) + "|"]
        + ["| " + " | ".join(row) + " |" for row in rows]
    )


def show_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Display a table of a run's numbers as HTML, with Markdown and plain-text fallbacks."""
    from IPython.display import display

    def row_html(row: Sequence[str], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in row) + "</tr>"

    table = (
        f"<table><thead>{row_html(header, 'th')}</thead><tbody>"
        + "".join(row_html(row, "td") for row in rows)
        + "</tbody></table>"
    )
    text = markdown_table(header, rows)
    display({"text/html": table, "text/markdown": text, "text/plain": text}, raw=True)
