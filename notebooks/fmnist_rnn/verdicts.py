"""Sentences written from results: counts in words, ranges, and which way pairs of runs point.

Chapter 5 compares runs of the row reader with runs of the column reader and writes its
conclusions from the numbers, so that a rebuild with other runs cannot leave a sentence
behind that the numbers contradict::

    pair_direction([0.0080, 0.0072], row_runs=1, column_runs=2)
    # 'the row run is ahead of both column runs (+0.0072 to +0.0080)'
    significance_count([0.0058, 0.0093])  # 'both differences'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "count_runs",
    "number_word",
    "pair_direction",
    "significance_count",
    "significant_directions",
    "two_digits",
    "value_span",
]

_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def number_word(n: int) -> str:
    """``n`` in words below ten ('no', 'one', ... 'nine'), in digits from ten on."""
    if n < 0:
        raise ValueError(f"number_word needs a count, got {n}")
    return _WORDS[n] if n < len(_WORDS) else str(n)


def count_runs(n: int) -> str:
    """'no run', 'one run', 'two runs', ..., '12 runs'."""
    return f"{number_word(n)} run" + ("" if n < 2 else "s")


def two_digits(x: float) -> str:
    """``x`` to two significant digits without an exponent: 0.018, 0.00025, 0.090, 0.10."""
    x = float(f"{x:.2g}")  # round first, so that 0.0996 becomes 0.10, not 0.100
    if x == 0:
        return "0"
    return f"{x:.{max(0, 1 - int(np.floor(np.log10(abs(x)))))}f}"


def value_span(values: Sequence[float], spec: str) -> str:
    """'low to high' of ``values`` formatted by ``spec``; one value if both print the same."""
    if not len(values):
        raise ValueError("value_span needs at least one value")
    low, high = format(min(values), spec), format(max(values), spec)
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
    ways_text = ", ".join(ways[:-1]) + " and " + ways[-1]
    rows = "the row run is" if row_runs == 1 else "the row runs are"
    return f"{rows} {ways_text} of the {number_word(n)} pairs ({values})"


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
