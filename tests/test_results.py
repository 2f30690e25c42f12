"""fmnist_rnn.results: the retrain switch, and a clear error without a checkpoint."""

from __future__ import annotations

import pytest

from fmnist_rnn import results
from fmnist_rnn.checkpoints import CheckpointError
from fmnist_rnn.profiles import get_profile


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
