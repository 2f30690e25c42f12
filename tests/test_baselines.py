"""The chapter-4 baselines: registered, right input and output, parameter counts."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_rnn.models import BUILDERS, get_builder

# Parameter counts derived by hand from the layer sizes.
EXPECTED_PARAMETERS = {
    # 784*256+256, 256*128+128, 128*10+10
    "mlp": 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10,
    # conv 3*3*1*32+32, conv 3*3*32*64+64, dense 7*7*64*128+128, 128*10+10
    "small_cnn": 9 * 32 + 32 + 9 * 32 * 64 + 64 + 7 * 7 * 64 * 128 + 128 + 1290,
    # SimpleRNN: 28*128 + 128*128 + 128
    "simple_rnn_rows": 28 * 128 + 128 * 128 + 128 + 1290,
    # LSTM: 4 * (28*128 + 128*128 + 128)
    "lstm_rows": 4 * (28 * 128 + 128 * 128 + 128) + 1290,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMETERS))
def test_baseline_shapes_and_sizes(name: str) -> None:
    model = get_builder(name)()
    assert name in BUILDERS
    assert model.count_params() == EXPECTED_PARAMETERS[name]
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    probabilities = model.predict(x, verbose=0)
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_row_readers_see_rows() -> None:
    """Changing only the last row changes the output; the readers take rows as steps."""
    model = get_builder("lstm_rows")()
    x = np.zeros((1, 28, 28, 1), np.float32)
    y = x.copy()
    y[0, 27, :, 0] = 1.0
    assert not np.allclose(model.predict(x, verbose=0), model.predict(y, verbose=0))
    assert model.get_layer("rows").output.shape == (None, 28, 28)


def test_unknown_builder() -> None:
    with pytest.raises(ValueError, match=r"unknown model builder 'resnet'.*small_cnn"):
        get_builder("resnet")
