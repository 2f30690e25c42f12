"""What ``train_speed.py`` compares: entries, thread settings and the configurations.

An entry is ``(config, builder)`` or ``(config, builder, (intra_op, inter_op))``;
:func:`configurations` lists them, the Keras example first (the reference). The
``tf_block_lstm`` configuration trains :func:`block_lstm_model`, the two-layer LSTM
on TensorFlow's fused ``BlockLSTMV2`` kernel (:class:`BlockLSTM`), defined here.
Everything here is re-exported by ``train_speed``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "notebooks") not in sys.path:
    sys.path.insert(0, str(ROOT / "notebooks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from fmnist_rnn.models import two_layer_lstm  # noqa: E402
from fmnist_rnn.training import DEFAULT, FAST_SKIP, KERAS_EXAMPLE, TrainConfig  # noqa: E402


@keras.saving.register_keras_serializable(package="benchmarks")
class BlockLSTM(keras.layers.Layer):
    """``keras.layers.LSTM(units)`` on TensorFlow's fused CPU kernel ``BlockLSTMV2``.

    Same weights as Keras; ``BlockLSTMV2`` (unlike ``BlockLSTM``) takes the gates
    in Keras's order i, f, c, o and adds no forget bias (the forward pass
    matches ``keras.layers.LSTM``). The gradient is TensorFlow's registered one
    (``BlockLSTMGradV2``), which does NOT match ``keras.layers.LSTM``'s gradient
    for the same weights (checked numerically with TensorFlow 2.21); it is
    measured as TensorFlow provides it.
    """

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape) -> None:
        """Same three weights as ``keras.layers.LSTM``."""
        u = self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * u), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(u, 4 * u), name="recurrent_kernel")
        self.bias = self.add_weight(shape=(4 * u,), initializer="zeros", name="bias")

    def call(self, x):
        """Last hidden state, (batch, units)."""
        zeros = tf.zeros(tf.stack([tf.shape(x)[0], self.units]))
        peephole = tf.zeros([self.units])
        outputs = tf.raw_ops.BlockLSTMV2(
            seq_len_max=tf.cast(tf.shape(x)[1], tf.int64),
            x=tf.transpose(x, [1, 0, 2]),
            cs_prev=zeros,
            h_prev=zeros,
            w=tf.concat([self.kernel, self.recurrent_kernel], axis=0),
            wci=peephole,
            wcf=peephole,
            wco=peephole,
            b=self.bias,
            cell_clip=0.0,  # 0 disables clipping
            use_peephole=False,
        )
        return outputs[6][-1]

    def compute_output_shape(self, input_shape):
        """(batch, units)."""
        return (input_shape[0], self.units)


def block_lstm_model(units: int = 128) -> keras.Model:
    """The two-layer LSTM (columns) on ``BlockLSTMV2``; same weights as ``two_layer_lstm``."""
    from fmnist_rnn.models import FoldLines, UnfoldLines

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Permute((2, 1, 3))(inputs)
    x = UnfoldLines()(BlockLSTM(units)(FoldLines()(x)))
    x = BlockLSTM(units)(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="two_layer_lstm_block")


#: TensorFlow threads of one configuration: (intra_op, inter_op); 0 leaves that one
#: to TensorFlow (as in ``tf.config.threading``).
Threads = tuple[int, int]

#: ``(config, builder)`` trains under the calling process's threads (TensorFlow's
#: defaults unless ``--threads``); ``(config, builder, (intra_op, inter_op))`` in a
#: worker process of its own thread setting.
Entry = (
    tuple[TrainConfig, Callable[..., keras.Model]]
    | tuple[TrainConfig, Callable[..., keras.Model], Threads | None]
)


def unpack(entry: Entry) -> tuple[TrainConfig, Callable[..., keras.Model], Threads | None]:
    """``(config, builder, threads)`` of an entry; ``threads`` is None when it sets none."""
    if len(entry) == 2:
        config, builder = entry
        return config, builder, None
    config, builder, threads = entry
    if threads is None:
        return config, builder, None
    if len(threads) != 2 or not all(isinstance(t, int) and t >= 0 for t in threads):
        raise ValueError(
            f"{config.name}: threads must be (intra_op, inter_op), integers >= 0, got {threads!r}"
        )
    return config, builder, (threads[0], threads[1])


def same_settings(a: TrainConfig, b: TrainConfig) -> bool:
    """True when two configurations train alike (names and descriptions aside)."""
    return a.replace(name="", description="") == b.replace(name="", description="")


def configurations(quick: bool = False) -> list[Entry]:
    """The configurations to compare; the first is the Keras example (the reference).

    ``quick`` keeps the first three, which all run under the calling process's
    threads (no worker processes).
    """
    fast = {"implementation": "fast"}
    skip = dict(FAST_SKIP.model_kwargs)
    skip_bf16 = {**skip, "matmul_dtype": "bfloat16"}
    keras_b256 = KERAS_EXAMPLE.scaled(256, name="keras_b256")
    entries: list[Entry] = [
        (KERAS_EXAMPLE, two_layer_lstm),
        (KERAS_EXAMPLE.replace(name="fast_lstm", model_kwargs=fast), two_layer_lstm),
        (FAST_SKIP, two_layer_lstm),
    ]
    if quick:
        return entries
    entries += [
        (KERAS_EXAMPLE.replace(name="fast_lstm_skip_bf16", model_kwargs=skip_bf16), two_layer_lstm),
        (
            KERAS_EXAMPLE.replace(
                name="keras_rnn_cell", model_kwargs={"implementation": "keras_rnn_cell"}
            ),
            two_layer_lstm,
        ),
        (KERAS_EXAMPLE.replace(name="tf_block_lstm"), block_lstm_model),
        (keras_b256, two_layer_lstm),
        (keras_b256.replace(name="keras_b256_bf16", precision="mixed_bfloat16"), two_layer_lstm),
        (keras_b256.replace(name="keras_b256_xla", jit_compile=True), two_layer_lstm),
        (
            KERAS_EXAMPLE.replace(model_kwargs=skip).scaled(128, name="fast_skip_b128"),
            two_layer_lstm,
        ),
        (
            KERAS_EXAMPLE.replace(model_kwargs=skip).scaled(256, name="fast_skip_b256"),
            two_layer_lstm,
        ),
        # Thread settings: each distinct one trains in a worker process of its own.
        (
            FAST_SKIP.replace(
                name="fast_skip_1thread",
                threads=(1, 1),
                description="FastLSTM, blanks skipped, one intra-op and one inter-op thread",
            ),
            two_layer_lstm,
            (1, 1),
        ),
        (
            DEFAULT.replace(
                name="fast_skip_chains2",
                threads=None,
                description="DEFAULT's model (2 independent loops) on TensorFlow's threads",
            ),
            two_layer_lstm,
        ),
        (DEFAULT, two_layer_lstm, DEFAULT.threads),
        (
            DEFAULT.scaled(64, name="fast_skip_b64_chains2_t1").replace(
                description="DEFAULT at batch 64 (learning rate scaled, warm-up)"
            ),
            two_layer_lstm,
            DEFAULT.threads,
        ),
    ]
    return entries
