"""fmnist_rnn.results: the results table never invents numbers; retrain switch."""

from __future__ import annotations

import pytest

from fmnist_rnn import results
from fmnist_rnn.checkpoints import CheckpointError
from fmnist_rnn.profiles import get_profile


def test_missing_models_are_listed_without_numbers() -> None:
    rows = [
        {"model": "a", "status": "not trained yet"},
        {
            "model": "b",
            "status": "checkpoint",
            "parameters": 1234,
            "epochs": 3,
            "recipe_epochs": 5,
            "train_minutes": 1.25,
            "machine": "cpu, 2 cores",
            "test_accuracy": 0.91234,
        },
    ]
    table = results.markdown_table(rows, 10_000).splitlines()
    assert table[0].endswith("test accuracy (10,000 images) |")
    assert table[1] == "|---|---:|---:|---:|---|---:|"
    assert table[2] == "| `a` |  |  |  |  | not trained yet |"
    assert table[3] == "| `b` | 1,234 | 3 (recipe: 5) | 1.2 min | cpu, 2 cores | 0.9123 |"
    assert all("self-reported" in line for line in table[4:])
    assert len(table) == 4 + len(results.PUBLISHED)


@pytest.mark.parametrize(("value", "expected"), [("", False), ("0", False), ("1", True)])
def test_retrain_switch(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv(results.ENV_RETRAIN, value)
    assert results.retrain_requested() is expected


def test_full_profile_without_checkpoint_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv(results.ENV_CHECKPOINT_DIR, str(tmp_path))
    with pytest.raises(CheckpointError, match=r"python -m fmnist_rnn.train two_layer_lstm"):
        results.obtain("two_layer_lstm", get_profile("full"), retrain=False)
