"""The sentences chapter 5 writes from its comparisons: words and ranges for given numbers."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_rnn.seeds import across_seeds
from fmnist_rnn.verdicts import (
    and_list,
    count_runs,
    duration_text,
    number_word,
    p_text,
    pair_direction,
    significance_count,
    significant_directions,
    two_digits,
    value_span,
    welch_summary,
    welch_verdict,
)


def test_and_list() -> None:
    assert and_list([0]) == "0"
    assert and_list((0, 1)) == "0 and 1"
    assert and_list(seed for seed in (0, 1, 2)) == "0, 1 and 2"  # any iterable, once
    with pytest.raises(ValueError, match="at least one item"):
        and_list([])


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


@pytest.mark.parametrize(
    ("minutes", "digits", "text"),
    [
        (88.153, 0, "88 minutes"),
        (9.9, 1, "9.9 minutes"),
        (1.0, 0, "1 minute"),
        (1.0, 1, "1.0 minutes"),
        (0.2283, 0, "14 seconds"),  # 13.7 s: not "0 minutes"
        (1 / 60, 1, "1 second"),
        (0.999, 0, "1 minute"),  # 59.94 s: a whole minute, not "60 seconds"
        (59.4 / 60, 0, "59 seconds"),
        (0.0, 0, "0 seconds"),
    ],
)
def test_duration_text(minutes: float, digits: int, text: str) -> None:
    assert duration_text(minutes, digits) == text


@pytest.mark.parametrize("minutes", [-1.0, float("nan")])
def test_duration_text_refuses_what_is_not_a_time(minutes: float) -> None:
    with pytest.raises(ValueError, match="needs a time in minutes"):
        duration_text(minutes)


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


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0497, "0.0497"),  # .2g would print 0.05 beside 'significant'
        (0.04996, "0.04996"),
        (0.0504, "0.0504"),  # .2g would print 0.05: on the line, not above it
        (0.05, "0.05"),
        (0.0499999999, "0.0499999999"),  # six digits still print 0.05: all of it
        (0.0058, "0.0058"),
        (0.00031, "0.00031"),  # no exponent
        (0.000031, "0.000031"),
        (0.52, "0.52"),
        (1.0, "1"),
    ],
)
def test_p_text_never_prints_a_p_on_the_wrong_side_of_the_level(p: float, text: str) -> None:
    assert p_text(p) == text
    assert (float(text) < 0.05) == (p < 0.05)


def test_p_text_at_another_level_and_refusals() -> None:
    assert p_text(0.0096, level=0.01) == "0.0096"
    assert p_text(0.00996, level=0.01) == "0.00996"
    assert p_text(0.0104, level=0.01) == "0.0104"
    with pytest.raises(ValueError, match="probability"):
        p_text(1.2)


def test_value_span_takes_a_formatting_function() -> None:
    assert value_span([0.0497, 0.0058], p_text) == "0.0058 to 0.0497"
    assert value_span([0.0497, 0.0497], p_text) == "0.0497"


ROWS, COLUMNS = [0.9176, 0.9168], [0.9096, 0.9104]
NAMES = ("row", "column")


def test_welch_verdict_significant_names_the_recipe_ahead_in_full() -> None:
    result = across_seeds(ROWS, COLUMNS)
    assert result["p"] < 0.05  # t = 12.73 on 2 degrees of freedom
    assert welch_verdict(result, (2, 2), NAMES) == (
        "significant at the 5% level: evidence, on these test images, that the row recipe "
        "scores higher on average over seeds (not only over these runs) than the column recipe. "
        "With two row runs and two column runs, each spread rests on very few accuracies: the "
        "Welch-Satterthwaite degrees of freedom allow for that only approximately, and the "
        "test assumes that a recipe's accuracies over seeds are roughly normal, which so few "
        "runs cannot check"
    )
    behind = welch_verdict(across_seeds(COLUMNS, ROWS), (2, 2), NAMES)
    assert "that the column recipe scores higher on average over seeds" in behind
    assert welch_summary(result, (2, 2), NAMES) == (
        "t = 12.73 on 2.00 degrees of freedom, p = 0.0061: evidence, on these test images, that "
        "the row recipe scores higher on average over seeds than the column recipe "
        "(significant at the 5% level, by a test that is approximate with so few runs)."
    )


def test_welch_verdict_names_only_the_recipes_with_few_runs() -> None:
    rng = np.random.default_rng(0)
    noise = 0.001 * rng.standard_normal((2, 8))
    many = across_seeds(0.917 + noise[0], 0.910 + noise[1])
    text = welch_verdict(many, (8, 8), NAMES)
    assert text.endswith(
        "With eight row runs and eight column runs, the test assumes that a recipe's "
        "accuracies over seeds are roughly normal"
    )
    assert "very few" not in text and "approximate" not in welch_summary(many, (8, 8), NAMES)
    two_against_eight = welch_verdict(across_seeds(ROWS, 0.910 + noise[1]), (2, 8), NAMES)
    assert "With two row runs and eight column runs, the row recipe's spread rests on very few" in (
        two_against_eight
    )


def test_welch_verdict_not_significant_gives_the_threshold_it_missed() -> None:
    result = across_seeds([0.9176, 0.9100], [0.9096, 0.9020])  # equal spreads: df = 2 exactly
    assert result["p"] > 0.05 and np.isclose(result["df"], 2.0)
    assert welch_verdict(result, (2, 2), NAMES) == (
        "not significant at the 5% level: a difference between the recipes is not shown, which "
        "is not the same as their being equal. With two row runs and two column runs, $|t|$ "
        "would have to exceed 4.31 (at 2.00 degrees of freedom) for $p$ below 0.05"
    )  # t(0.975, 2) = 4.303, rounded up
    assert welch_summary(result, (2, 2), NAMES).endswith(
        ", not significant at the 5% level (a difference not shown, which is not the same as "
        "no difference)."
    )


@pytest.mark.parametrize("seed", range(20))
def test_printed_t_never_exceeds_the_printed_threshold_when_not_significant(seed: int) -> None:
    rng = np.random.default_rng(seed)
    result = across_seeds(
        0.91 + 0.002 * rng.standard_normal(2), 0.91 + 0.004 * rng.standard_normal(3)
    )
    text = welch_verdict(result, (2, 3), NAMES)
    if result["p"] >= 0.05:
        threshold = float(text.split("would have to exceed ")[1].split(" ")[0])
        assert float(f"{abs(result['t']):.2f}") <= threshold
    else:
        assert "exceed" not in text


def test_welch_verdict_at_other_levels() -> None:
    result = across_seeds(ROWS, COLUMNS)
    strict = welch_verdict({**result, "p": 0.004}, (2, 2), NAMES, level=0.01)
    assert strict.startswith("significant at the 1% level")
    assert welch_verdict({**result, "p": 0.02}, (2, 2), NAMES, level=0.01).startswith(
        "not significant at the 1% level"
    )
    assert "at the 2.5% level" in welch_verdict(result, (2, 2), NAMES, level=0.025)


def test_welch_verdict_flags_tied_runs_on_either_side() -> None:
    tied_rows = across_seeds([0.9176, 0.9176], COLUMNS)
    text = welch_verdict(tied_rows, (2, 2), NAMES)
    assert "The row runs both score the same, so their estimated spread is 0" in text
    assert text.endswith("so this $p$ is probably too small")
    assert welch_summary(tied_rows, (2, 2), NAMES).endswith(
        "(significant at the 5% level, by a test that is approximate with so few runs, and one "
        "recipe's runs tie, so this p is probably too small)."
    )
    rng = np.random.default_rng(1)
    tied_many = across_seeds(0.917 + 0.001 * rng.standard_normal(8), [0.9100] * 8)
    assert welch_summary(tied_many, (8, 8), NAMES).endswith(
        "(significant at the 5% level, though one recipe's runs tie, so this p is probably "
        "too small)."
    )
    tied_columns = across_seeds([*ROWS, 0.9150], [0.9100] * 3)
    assert "The column runs all score the same" in welch_verdict(tied_columns, (3, 3), NAMES)
    assert "score the same" not in welch_verdict(across_seeds(ROWS, COLUMNS), (2, 2), NAMES)


@pytest.mark.parametrize(
    ("rows", "mcnemar_any", "explained"),
    [
        (ROWS, False, True),  # Welch significant, no McNemar pair
        (ROWS, True, False),
        ([0.9176, 0.9110], True, True),  # Welch not significant, some McNemar pair
        ([0.9176, 0.9110], False, False),
        (ROWS, None, False),
    ],
)
def test_welch_verdict_explains_a_disagreement_with_mcnemar(
    rows: list[float], mcnemar_any: bool | None, explained: bool
) -> None:
    text = welch_verdict(across_seeds(rows, COLUMNS), (2, 2), NAMES, mcnemar_any=mcnemar_any)
    assert ("so the two can disagree" in text) is explained


@pytest.mark.parametrize("runs", [(1, 2), (2, 1)])
def test_welch_verdict_refuses_one_run_or_a_p_outside_zero_to_one(runs: tuple[int, int]) -> None:
    result = across_seeds(ROWS, COLUMNS)
    with pytest.raises(ValueError, match="two runs a side"):
        welch_verdict(result, runs, NAMES)
    with pytest.raises(ValueError, match="probability"):
        welch_verdict({**result, "p": 1.5}, (2, 2), NAMES)
