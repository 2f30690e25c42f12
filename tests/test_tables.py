"""The notebooks' result tables."""

from __future__ import annotations

import pytest

from fmnist_rnn import tables


def test_show_table_renders_escaped_html_and_markdown(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = []
    monkeypatch.setattr(tables, "display", lambda data, raw: shown.append(data))
    tables.show_table(["model", "accuracy"], [["a<b", "0.9"]])
    (data,) = shown
    assert "<td>a&lt;b</td><td>0.9</td>" in data["text/html"]
    assert data["text/markdown"].splitlines() == [
        "| model | accuracy |",
        "|---|---|",
        "| a<b | 0.9 |",
    ]
