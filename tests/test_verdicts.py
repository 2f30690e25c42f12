"""The sentences chapter 5 writes from its comparisons: words and ranges for given numbers."""

from __future__ import annotations

import pytest

from fmnist_rnn.verdicts import (
    count_runs,
    number_word,
    pair_direction,
    significance_count,
    significant_directions,
    two_digits,
    value_span,
)


def test_counts_in_words() -> None:
    assert [number_word(n) for n in (0, 1, 2, 9, 10, 12)] == [
        "no", "one", "two", "nine", "10", "12"
    ]  # fmt: skip
    assert [count_runs(n) for n in (0, 1, 2, 12)] == ["no run", "one run", "two runs", "12 runs"]
    with pytest.raises(ValueError, match="count"):
        number_word(-1)


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (0.018051, "0.018"),
        (0.00025238, "0.00025"),  # no exponent
        (0.000032, "0.000032"),
        (0.09, "0.090"),  # the second digit kept
        (0.0996, "0.10"),  # rounding crosses a power of ten: still two digits
        (0.9176, "0.92"),
        (13.4, "13"),
        (0.0, "0"),
    ],
)
def test_two_significant_digits(x: float, text: str) -> None:
    assert two_digits(x) == text


def test_value_span() -> None:
    assert value_span([0.0080, 0.0072], "+.4f") == "+0.0072 to +0.0080"
    assert value_span([0.00581, 0.00579], ".2g") == "0.0058"  # both print the same
    with pytest.raises(ValueError, match="at least one"):
        value_span([], ".2f")


DIRECTIONS = [  # (differences, row runs, column runs, the words)
    ([0.008, 0.0072], 1, 2, "the row run is ahead of both column runs (+0.0072 to +0.0080)"),
    ([-0.01, -0.03, -0.02], 1, 3, "the row run is behind every column run (-0.0300 to -0.0100)"),
    ([0.01, 0.02, 0.01, 0.03], 2, 2, "every row run is ahead of both column runs (+0.0100 to "
     "+0.0300)"),
    ([0.0, 0.0], 1, 2, "the row run is level with both column runs (+0.0000)"),
    ([0.002, 0.0], 1, 2, "the row run is ahead in one and level in one of the two pairs "
     "(+0.0000 to +0.0020)"),
    ([0.002, -0.012, -0.001, 0.0], 2, 2, "the row runs are ahead in one, behind in two and "
     "level in one of the four pairs (-0.0120 to +0.0020)"),
    ([0.004], 1, 1, "the row run is ahead of the column run (+0.0040)"),
]  # fmt: skip


@pytest.mark.parametrize(("diffs", "rows", "columns", "text"), DIRECTIONS)
def test_pair_direction(diffs: list[float], rows: int, columns: int, text: str) -> None:
    assert pair_direction(diffs, rows, columns) == text


def test_pair_direction_needs_one_difference_per_pair() -> None:
    with pytest.raises(ValueError, match=r"2 row run.*times 2 column run.*got 3"):
        pair_direction([0.01, 0.02, 0.03], 2, 2)


@pytest.mark.parametrize(
    ("p", "text"),
    [
        ([0.0058, 0.0093], "both differences"),
        ([0.2, 0.06], "neither of the two differences"),
        ([0.01] * 6, "all six differences"),
        ([0.01, 0.2, 0.3], "one of the three differences"),
        ([0.2] * 4, "none of the four differences"),
        ([0.05, 0.049], "one of the two differences"),  # below the level, not at it
        ([0.01], "the one difference"),
        ([0.3], "no difference"),
    ],
)
def test_significance_count(p: list[float], text: str) -> None:
    assert significance_count(p) == text


def test_significance_count_needs_p_values() -> None:
    with pytest.raises(ValueError, match="at least one"):
        significance_count([])


def test_significant_directions() -> None:
    # All pairs point one way: the direction is said already, nothing to add.
    assert significant_directions([0.01, 0.02], [0.001, 0.3]) == ""
    # Mixed: which way the significant ones point.
    mixed = [0.005, -0.012, 0.002, -0.013]
    assert significant_directions(mixed, [0.6, 0.0002, 1.0, 0.0001]) == (
        "; none with a row run ahead, two behind"
    )
    assert significant_directions(mixed, [0.01, 0.0002, 1.0, 0.5]) == (
        "; one with a row run ahead, one behind"
    )
    assert significant_directions(mixed, [0.6, 0.2, 1.0, 0.5]) == ""  # nothing significant
    assert significant_directions([0.01, 0.0, 0.02], [0.001, 1.0, 0.01]) == ""  # none behind
    with pytest.raises(ValueError, match="2 differences but 1 p-values"):
        significant_directions([0.01, -0.01], [0.5])
