"""Sentences written from results: counts in words, ranges, and which way pairs of runs point.

Chapter 5 compares runs of the row reader with runs of the column reader and writes its
conclusions from the numbers, so that a rebuild with other runs cannot leave a sentence
behind that the numbers contradict::

    pair_direction([0.0080, 0.0072], row_runs=1, column_runs=2)
    # 'the row run is ahead of both column runs (+0.0072 to +0.0080)'
    significance_count([0.0058, 0.0093])  # 'both differences'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
from scipy.stats import t as student_t

__all__ = [
    "and_list",
    "count_runs",
    "duration_text",
    "number_word",
    "p_text",
    "pair_direction",
    "significance_count",
    "significant_directions",
    "two_digits",
    "value_span",
    "welch_summary",
    "welch_verdict",
]

_FEW_RUNS = 5  # up to this many runs a side, a spread between seeds is poorly determined
_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def number_word(n: int) -> str:
    """``n`` in words below ten ('no', 'one', ... 'nine'), in digits from ten on."""
    if n < 0:
        raise ValueError(f"number_word needs a count, got {n}")
    return _WORDS[n] if n < len(_WORDS) else str(n)


def and_list(items: Iterable[object]) -> str:
    """The items as a list in words: '0', '0 and 1', '0, 1 and 2'."""
    words = [str(item) for item in items]
    if not words:
        raise ValueError("and_list needs at least one item")
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def count_runs(n: int) -> str:
    """'no run', 'one run', 'two runs', ..., '12 runs'."""
    return f"{number_word(n)} run" + ("" if n < 2 else "s")


def duration_text(minutes: float, digits: int = 0) -> str:
    """A training time in words: '88 minutes', '9.9 minutes' (``digits=1``), and in seconds
    below one minute ('14 seconds'), where a count of minutes would print as 0."""
    if not minutes >= 0:  # also refuses NaN, a record without a wall time
        raise ValueError(f"duration_text needs a time in minutes, got {minutes}")
    seconds = round(minutes * 60)
    number, unit = (f"{seconds}", "second") if seconds < 60 else (f"{minutes:.{digits}f}", "minute")
    return f"{number} {unit}" + ("" if number == "1" else "s")


def two_digits(x: float) -> str:
    """``x`` to two significant digits without an exponent: 0.018, 0.00025, 0.090, 0.10."""
    x = float(f"{x:.2g}")  # round first, so that 0.0996 becomes 0.10, not 0.100
    if x == 0:
        return "0"
    return f"{x:.{max(0, 1 - int(np.floor(np.log10(abs(x)))))}f}"


def value_span(values: Sequence[float], spec: str | Callable[[float], str]) -> str:
    """'low to high' of ``values`` formatted by ``spec`` (a format spec such as ``".2g"``, or a
    function such as ``p_text``); one value if both print the same."""
    if not len(values):
        raise ValueError("value_span needs at least one value")
    show = spec if callable(spec) else (lambda x: format(x, spec))
    low, high = show(min(values)), show(max(values))
    return low if low == high else f"{low} to {high}"


def pair_direction(diffs: Sequence[float], row_runs: int, column_runs: int) -> str:
    """Which way the row runs stand against the column runs, one difference per pair.

    ``diffs`` are row-run accuracy minus column-run accuracy for every pair of a row run
    and a column run (``row_runs * column_runs`` of them).
    """
    if row_runs < 1 or column_runs < 1 or len(diffs) != row_runs * column_runs:
        raise ValueError(
            f"pair_direction needs one difference per pair: {row_runs} row run(s) times "
            f"{column_runs} column run(s), got {len(diffs)} difference(s)"
        )
    n = len(diffs)
    counts = {"ahead": sum(d > 0 for d in diffs), "behind": sum(d < 0 for d in diffs)}
    counts["level"] = n - counts["ahead"] - counts["behind"]
    values = value_span(diffs, "+.4f")
    columns = "both column runs" if column_runs == 2 else "every column run"
    if column_runs == 1:
        columns = "the column run"
    for way, phrase in (("ahead", "ahead of"), ("behind", "behind"), ("level", "level with")):
        if counts[way] == n:
            rows = "the row run is" if row_runs == 1 else "every row run is"
            return f"{rows} {phrase} {columns} ({values})"
    ways = [f"{way} in {number_word(k)}" for way, k in counts.items() if k]
    rows = "the row run is" if row_runs == 1 else "the row runs are"
    return f"{rows} {and_list(ways)} of the {number_word(n)} pairs ({values})"


def significance_count(p_adjusted: Sequence[float], level: float = 0.05) -> str:
    """How many of the (adjusted) p-values are below ``level``, with the noun: 'both
    differences', 'all six differences', 'neither of the two differences', 'none of the
    four differences', 'one of the three differences', 'the one difference', 'no difference'."""
    n = len(p_adjusted)
    if n == 0:
        raise ValueError("significance_count needs at least one p-value")
    k = sum(p < level for p in p_adjusted)
    if n == 1:
        return "the one difference" if k else "no difference"
    if k == n:
        return "both differences" if n == 2 else f"all {number_word(n)} differences"
    if k == 0:
        which = "neither of the two" if n == 2 else f"none of the {number_word(n)}"
        return f"{which} differences"
    return f"{number_word(k)} of the {number_word(n)} differences"


def significant_directions(
    diffs: Sequence[float], p_adjusted: Sequence[float], level: float = 0.05
) -> str:
    """Which way the significant pairs point, when some pairs point each way:
    '; one with a row run ahead, none behind' (else '')."""
    if len(diffs) != len(p_adjusted):
        raise ValueError(f"{len(diffs)} differences but {len(p_adjusted)} p-values")
    if not (any(d > 0 for d in diffs) and any(d < 0 for d in diffs)):
        return ""  # one way (or level): the direction says it already
    significant = [d for d, p in zip(diffs, p_adjusted, strict=True) if p < level]
    if not significant:
        return ""
    up, down = (sum(d > 0 for d in significant), sum(d < 0 for d in significant))
    up_text, down_text = (number_word(k) if k else "none" for k in (up, down))
    return f"; {up_text} with a row run ahead, {down_text} behind"


def p_text(p: float, level: float = 0.05) -> str:
    """``p`` to two significant digits without an exponent, or more digits when two would
    print it on or across ``level`` (0.0496 prints as 0.0496, not as 0.05 beside
    'significant'; 0.000031, not 3.1e-05)."""
    if not 0 <= p <= 1:
        raise ValueError(f"p must be a probability, got {p}")
    for digits in range(2, 7):
        shown = float(f"{p:.{digits}g}")
        if (shown < level) == (p < level) and (shown != level or p == level):
            return np.format_float_positional(shown, trim="-")
    return np.format_float_positional(p, trim="-")


def _percent(level: float) -> str:
    return f"{level * 100:g}%"


def _critical_t(level: float, df: float) -> str:
    """Two-sided critical |t|, rounded *up* to two decimals: a |t| printed to two decimals
    below it is below it."""
    return f"{np.ceil(student_t.ppf(1 - level / 2, df) * 100) / 100:.2f}"


def welch_verdict(
    welch: Mapping[str, float],
    runs: tuple[int, int],
    names: tuple[str, str],
    level: float = 0.05,
    mcnemar_any: bool | None = None,
) -> str:
    """What Welch's test across seeds says, as Markdown sentences that start lower case.

    ``welch`` is what ``seeds.across_seeds(a, b)`` returns (``diff``, ``p``, ``df``,
    ``sd_a``, ``sd_b``) for ``runs`` = (runs of recipe a, runs of recipe b), named
    ``names`` (``("row", "column")``). ``mcnemar_any``: whether any paired McNemar test
    between the two recipes' runs was significant; when it disagrees with Welch, a
    sentence says why the two can. Example::

        welch_verdict(result, (2, 2), ("row", "column"))
        # 'significant at the 5% level: evidence, on these test images, that the row recipe
        #  scores higher on average over seeds (not only over these runs) than ...'
    """
    if min(runs) < 2:
        raise ValueError(f"Welch's test needs two runs a side, got {runs[0]} and {runs[1]}")
    if not 0 <= welch["p"] <= 1:
        raise ValueError(f"p must be a probability, got {welch['p']}")
    percent, significant = _percent(level), welch["p"] < level
    counts = " and ".join(
        f"{number_word(k)} {name} runs" for k, name in zip(runs, names, strict=True)
    )
    if significant:
        ahead, behind = names if welch["diff"] > 0 else names[::-1]
        text = (
            f"significant at the {percent} level: evidence, on these test images, that the "
            f"{ahead} recipe scores higher on average over seeds (not only over these runs) "
            f"than the {behind} recipe. "
        )
        few = [name for k, name in zip(runs, names, strict=True) if k <= _FEW_RUNS]
        if few:
            whose = "each spread rests" if len(few) == 2 else f"the {few[0]} recipe's spread rests"
            text += (
                f"With {counts}, {whose} on very few accuracies: the Welch-Satterthwaite "
                "degrees of freedom allow for that only approximately, and the test assumes "
                "that a recipe's accuracies over seeds are roughly normal, which so few runs "
                "cannot check"
            )
        else:
            text += (
                f"With {counts}, the test assumes that a recipe's accuracies over seeds are "
                "roughly normal"
            )
    else:
        text = (
            f"not significant at the {percent} level: a difference between the recipes is not "
            f"shown, which is not the same as their being equal. With {counts}, $|t|$ would "
            f"have to exceed {_critical_t(level, welch['df'])} (at {welch['df']:.2f} degrees "
            f"of freedom) for $p$ below {level:g}"
        )
    text += "".join(
        f". The {name} runs {'both' if k == 2 else 'all'} score the same, so their estimated "
        "spread is 0, which the test takes at face value; a true spread of 0 is implausible, "
        "so this $p$ is probably too small"
        for name, k, sd in zip(names, runs, (welch["sd_a"], welch["sd_b"]), strict=True)
        if sd == 0
    )
    if mcnemar_any is not None and mcnemar_any != significant:
        text += (
            ". McNemar's test, pair by pair, counts the test images' sampling error and "
            "holds the networks fixed; Welch's test holds the test images fixed and counts "
            "the spread between seeds, so the two can disagree"
        )
    return text


def welch_summary(
    welch: Mapping[str, float], runs: tuple[int, int], names: tuple[str, str], level: float = 0.05
) -> str:
    """Welch's result in one clause for a summary (plain text): 't = 12.73 on 2.00 degrees
    of freedom, p = 0.0061: evidence, on these test images, that the row recipe scores higher
    on average over seeds than the column recipe (significant at the 5% level, by a test
    that is approximate with so few runs).'"""
    p, percent = welch["p"], _percent(level)
    stated = f"t = {welch['t']:.2f} on {welch['df']:.2f} degrees of freedom, p = {p_text(p, level)}"
    if p >= level:
        return (
            f"{stated}, not significant at the {percent} level (a difference not shown, which "
            "is not the same as no difference)."
        )
    ahead, behind = names if welch["diff"] > 0 else names[::-1]
    few, tie = min(runs) <= _FEW_RUNS, welch["sd_a"] == 0 or welch["sd_b"] == 0
    caveat = ", by a test that is approximate with so few runs" if few else ""
    if tie:
        caveat += (", and" if few else ", though") + " one recipe's runs tie, so this p is "
        caveat += "probably too small"
    return (
        f"{stated}: evidence, on these test images, that the {ahead} recipe scores higher on "
        f"average over seeds than the {behind} recipe (significant at the {percent} "
        f"level{caveat})."
    )
