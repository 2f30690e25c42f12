"""The training set-ups the speed benchmark compares, and the Keras example's set-up.

A :class:`TrainConfig` says *how* the two-layer LSTM is trained (which LSTM
implementation, batch size, optimizer, learning rate and warm-up, precision, XLA,
TensorFlow's thread pools), not *what* it learns. Its :attr:`~TrainConfig.description`
is written from those fields, so a copy made with :meth:`~TrainConfig.replace`
never carries another configuration's description.

* :data:`KERAS_EXAMPLE`: the Keras example's set-up (``keras.layers.LSTM``,
  batch 32, RMSprop 1e-3, float32), the reference of every ratio;
* :func:`for_fast_path`: the Keras example's set-up on the LSTM, chains and thread
  pools that :func:`~fmnist_rnn.performance.hardware.choose_fast_path` picks;
* :func:`configurations`: the list ``benchmarks/train_speed.py`` measures.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import keras
import tensorflow as tf

from .fast_lstm import FoldLines, UnfoldLines, fast_two_layer_lstm
from .hardware import FastPath

__all__ = [
    "FAST_SKIP",
    "KERAS_EXAMPLE",
    "MODELS",
    "BlockLSTM",
    "TrainConfig",
    "configurations",
    "for_fast_path",
    "from_row",
]


def keras_two_layer_lstm(units: int = 128, cell: bool = False) -> keras.Model:
    """The book's model on ``keras.layers.LSTM`` (or ``keras.layers.RNN(LSTMCell)``)."""

    def lstm():
        return keras.layers.RNN(keras.layers.LSTMCell(units)) if cell else keras.layers.LSTM(units)

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Permute((2, 1, 3))(inputs)
    x = lstm()(keras.layers.TimeDistributed(lstm())(x))
    outputs = keras.layers.Dense(10, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs)


@keras.saving.register_keras_serializable(package="fmnist_rnn.performance")
class BlockLSTM(keras.layers.Layer):
    """``keras.layers.LSTM(units)`` on TensorFlow's fused CPU kernel ``BlockLSTMV2``.

    Same weights and forward pass as Keras (``BlockLSTMV2`` takes the gates in
    Keras's order and adds no forget bias). Its registered gradient does NOT match
    ``keras.layers.LSTM``'s (checked in appendix A1); it is measured as TensorFlow
    provides it.
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


def block_lstm_two_layer_lstm(units: int = 128) -> keras.Model:
    """The two-layer LSTM (columns) on ``BlockLSTMV2``; same weights as the Keras model."""
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Permute((2, 1, 3))(inputs)
    x = UnfoldLines()(BlockLSTM(units)(FoldLines()(x)))
    outputs = keras.layers.Dense(10, activation="softmax")(BlockLSTM(units)(x))
    return keras.Model(inputs, outputs)


#: Model builders by implementation name; all hold the same weights in the same order.
MODELS = {
    "keras": lambda **kw: keras_two_layer_lstm(**kw),
    "keras_rnn_cell": lambda **kw: keras_two_layer_lstm(cell=True, **kw),
    "fast": fast_two_layer_lstm,
    "tf_block_lstm": lambda **kw: block_lstm_two_layer_lstm(**kw),
}
MODEL_TEXT = {
    "keras": "keras.layers.LSTM",
    "keras_rnn_cell": "keras.layers.RNN(LSTMCell)",
    "fast": "FastLSTM",
    "tf_block_lstm": "BlockLSTMV2 kernel",
}


@dataclass(frozen=True)
class TrainConfig:
    """How to train the two-layer LSTM: every knob the speed benchmark measures.

    Attributes:
        name: short label for tables.
        model: a key of :data:`MODELS` (``"keras"``, ``"keras_rnn_cell"``,
            ``"fast"``, ``"tf_block_lstm"``).
        model_kwargs: builder arguments (for ``"fast"``: ``skip_blank``,
            ``chains``, ``matmul_dtype``).
        batch_size: images per update.
        optimizer: a ``keras.optimizers.get`` name.
        learning_rate: the (peak) learning rate.
        warmup_images: linear warm-up over this many images (0: none).
        precision: a Keras dtype policy, ``"float32"`` or ``"mixed_bfloat16"``.
        jit_compile: compile the train step with XLA.
        threads: TensorFlow's ``(intra_op, inter_op)`` pools, or None for its defaults
            (the benchmark trains each setting in a process of its own).
    """

    name: str
    model: str = "keras"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 32
    optimizer: str = "rmsprop"
    learning_rate: float = 1e-3
    warmup_images: int = 0
    precision: str = "float32"
    jit_compile: bool = False
    threads: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; expected one of {', '.join(MODELS)}")
        if self.model_kwargs and self.model != "fast":
            raise ValueError(f"model_kwargs {sorted(self.model_kwargs)} apply only to model='fast'")

    @property
    def description(self) -> str:
        """One line, written from the fields (so it always matches them)."""
        kw = self.model_kwargs
        parts = [MODEL_TEXT[self.model]]
        if kw.get("skip_blank"):
            parts.append("leading blank pixels skipped")
        if kw.get("chains", 1) > 1:
            parts.append(f"{kw['chains']} independent loops")
        if kw.get("matmul_dtype", "float32") != "float32":
            parts.append(f"{kw['matmul_dtype']} recurrent products")
        rate = f"{self.optimizer} {self.learning_rate:.3g}"
        if self.warmup_images:
            rate += f" (warm-up over {self.warmup_images} images)"
        parts += [f"batch {self.batch_size}", rate, self.precision]
        if self.jit_compile:
            parts.append("XLA")
        if self.threads is None:
            parts.append("TensorFlow's default threads")
        else:
            parts.append(f"{self.threads[0]} intra-op / {self.threads[1]} inter-op threads")
        return ", ".join(parts)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (its description follows the fields)."""
        return dataclasses.replace(self, **changes)

    def scaled(self, batch_size: int, warmup_images: int = 8192, name: str = "") -> TrainConfig:
        """This set-up at another batch size: the learning rate scaled by the square
        root of the batch ratio (Krizhevsky 2014), with a linear warm-up."""
        return self.replace(
            name=name or f"{self.name}_b{batch_size}",
            batch_size=batch_size,
            learning_rate=self.learning_rate * (batch_size / self.batch_size) ** 0.5,
            warmup_images=warmup_images,
        )

    def same_settings(self, other: TrainConfig) -> bool:
        """True when two configurations train alike (names aside)."""
        return self.replace(name="") == other.replace(name="")

    def build(self, units: int = 128) -> keras.Model:
        """The model under ``precision``."""
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.precision)
        try:
            return MODELS[self.model](units=units, **self.model_kwargs)
        finally:
            keras.config.set_dtype_policy(previous)

    def compile(self, model: keras.Model) -> keras.Model:
        """Compile ``model`` with this optimizer, learning rate (and warm-up), XLA setting."""
        rate: Any = self.learning_rate
        steps = self.warmup_images // self.batch_size
        if steps >= 1:  # Keras's own warm-up: linear to the peak, then constant (alpha=1)
            rate = keras.optimizers.schedules.CosineDecay(
                self.learning_rate / steps,
                1,
                alpha=1.0,
                warmup_target=self.learning_rate,
                warmup_steps=steps,
            )
        optimizer = type(keras.optimizers.get(self.optimizer))(learning_rate=rate)
        model.compile(
            optimizer=optimizer,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=self.jit_compile,
        )
        return model


#: The Keras example's set-up: keras.layers.LSTM, batch 32, RMSprop(1e-3), float32.
KERAS_EXAMPLE = TrainConfig("keras_example")

#: FastLSTM skipping leading blank pixels, otherwise the Keras example's set-up.
FAST_SKIP = TrainConfig("fast_lstm_skip_blank", model="fast", model_kwargs={"skip_blank": True})


def for_fast_path(path: FastPath, name: str = "fast_path") -> TrainConfig:
    """The Keras example's set-up on the implementation, chains and threads of ``path``."""
    model = "keras" if path.implementation == "keras" else "fast"
    return KERAS_EXAMPLE.replace(
        name=name, model=model, model_kwargs=path.model_kwargs(), threads=path.threads
    )


def from_row(row: dict) -> TrainConfig:
    """The configuration a row of ``train_speed.json`` measured.

    Rows written before this module existed name the implementation inside
    ``model_kwargs`` (``"implementation"``) or by their builder (``block_lstm_model``).
    """
    kwargs = dict(row["model_kwargs"])
    model = row.get("model") or kwargs.pop("implementation", "keras")
    if row.get("builder") == "block_lstm_model":
        model = "tf_block_lstm"
    threads = row.get("threads")
    return TrainConfig(
        name=row["name"],
        model=model,
        model_kwargs=kwargs,
        threads=None if threads is None else (threads["intra_op"], threads["inter_op"]),
        **{k: row[k] for k in ("batch_size", "optimizer", "learning_rate", "warmup_images")},
        **{k: row[k] for k in ("precision", "jit_compile")},
    )


def configurations(quick: bool = False) -> list[TrainConfig]:
    """What the benchmark compares; the first is the Keras example (the reference).

    ``quick`` keeps the first three (no thread settings: they run in one process).
    """
    fast = KERAS_EXAMPLE.replace(name="fast_lstm", model="fast")
    entries = [KERAS_EXAMPLE, fast, FAST_SKIP]
    if quick:
        return entries
    skip = FAST_SKIP.model_kwargs
    chains2 = FAST_SKIP.replace(name="fast_skip_chains2", model_kwargs={**skip, "chains": 2})
    keras_b256 = KERAS_EXAMPLE.scaled(256, name="keras_b256")
    chosen_2cores = chains2.replace(name="fast_skip_chains2_t1", threads=(1, 2))
    return [
        *entries,
        FAST_SKIP.replace(
            name="fast_lstm_skip_bf16", model_kwargs={**skip, "matmul_dtype": "bfloat16"}
        ),
        KERAS_EXAMPLE.replace(name="keras_rnn_cell", model="keras_rnn_cell"),
        KERAS_EXAMPLE.replace(name="tf_block_lstm", model="tf_block_lstm"),
        keras_b256,
        keras_b256.replace(name="keras_b256_bf16", precision="mixed_bfloat16"),
        keras_b256.replace(name="keras_b256_xla", jit_compile=True),
        FAST_SKIP.scaled(128, name="fast_skip_b128"),
        FAST_SKIP.scaled(256, name="fast_skip_b256"),
        FAST_SKIP.replace(name="fast_skip_1thread", threads=(1, 1)),
        chains2,
        chosen_2cores,  # what choose_fast_path picks on 2 cores
        chosen_2cores.scaled(64, name="fast_skip_b64_chains2_t1"),
    ]
