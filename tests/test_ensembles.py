"""fmnist_rnn.ensembles against hand-computed averages."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from fmnist_rnn import ensembles

matplotlib.use("Agg")


def test_average_is_the_mean_of_the_members() -> None:
    rng = np.random.default_rng(1)
    members = [rng.dirichlet(np.ones(10), size=7) for _ in range(3)]
    average = ensembles.average_probabilities(members)
    assert average.shape == (7, 10)
    np.testing.assert_allclose(average, (members[0] + members[1] + members[2]) / 3)
    np.testing.assert_array_equal(ensembles.average_probabilities(members[:1]), members[0])


@pytest.mark.parametrize(
    "members, message",
    [
        ([], "at least one member"),
        ([np.ones((4, 10)), np.ones((5, 10))], "shapes"),
        ([np.ones(10)], "shapes"),
    ],
)
def test_average_rejects_bad_members(members, message) -> None:
    with pytest.raises(ValueError, match=message):
        ensembles.average_probabilities(members)


def test_averaging_can_pick_a_class_no_member_picks() -> None:
    """The oracle bounds only combiners that pick one member's label (chapter 5)."""
    first = np.array([[0.50, 0.45, 0.05]])
    second = np.array([[0.05, 0.45, 0.50]])
    average = ensembles.average_probabilities([first, second])
    assert first.argmax() == 0 and second.argmax() == 2
    assert average.argmax() == 1  # neither member's answer


def test_plot_has_one_bar_per_model_and_part() -> None:
    table = {"a": {"val": 0.9, "test": 0.89}, "a + b": {"val": 0.92, "test": 0.915}}
    fig = ensembles.plot_ensembles(table)
    ax = fig.axes[0]
    assert len(ax.patches) == 4
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "a + b"]
    assert ax.get_xlabel() == "accuracy (the axis starts at 0.87)" and ax.get_title()
