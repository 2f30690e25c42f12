"""The notebooks' one table renderer."""

from __future__ import annotations

import pytest

from fmnist_rnn import tables


def test_markdown_table_aligns_and_checks_widths() -> None:
    text = tables.markdown_table(["model", "accuracy"], [["a<b", "0.9"]], align="lr")
    assert text.splitlines() == ["| model | accuracy |", "|---|---:|", "| a<b | 0.9 |"]
    with pytest.raises(ValueError, match="2 columns"):
        tables.markdown_table(["model", "accuracy"], [["a"]])


def test_show_table_escapes_html(capsys: pytest.CaptureFixture[str]) -> None:
    tables.show_table(["model", "accuracy"], [["a<b", "0.9"]])  # no notebook: printed
    assert "<td>a&lt;b</td><td>0.9</td>" in capsys.readouterr().out
