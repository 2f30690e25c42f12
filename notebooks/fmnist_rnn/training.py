"""Training: one configuration object and one ``fit`` for every chapter.

A :class:`TrainConfig` says *how* a model is trained (batch size, optimizer,
learning rate and warm-up, precision, XLA, which LSTM implementation), not *what*
it learns. Two are predefined:

* :data:`KERAS_EXAMPLE`: the Keras example's setup (batch 32, RMSprop 1e-3,
  float32, ``keras.layers.LSTM``);
* :data:`DEFAULT`: the fastest configuration that lost no accuracy in
  ``benchmarks/train_speed.py`` (table: ``benchmarks/results/train_speed.json``,
  discussed in the appendix *Making LSTMs train fast*).

Usage::

    from fmnist_rnn import load_splits, training
    from fmnist_rnn.models import two_layer_lstm
    history = training.fit(two_layer_lstm, load_splits(), epochs=5)
    history = training.fit(two_layer_lstm, splits, 5, config=training.KERAS_EXAMPLE)

``fit`` builds and compiles the model itself (from a builder and keyword
arguments), so that a later version can do so inside a
``tf.distribute.Strategy`` scope.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import keras_compat, pipeline
from .sequences import as_image_tensor, scale

__all__ = [
    "DEFAULT",
    "FAST_SKIP",
    "KERAS_EXAMPLE",
    "TrainConfig",
    "WarmupSchedule",
    "build_model",
    "compile_model",
    "fit",
    "prepare",
    "set_cpu_threads",
    "set_threads",
]


@keras.saving.register_keras_serializable(package="fmnist_rnn")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from ``peak / warmup_steps`` to ``peak``, then constant."""

    def __init__(self, peak: float, warmup_steps: int) -> None:
        self.peak = float(peak)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32") + 1.0
        fraction = keras.ops.minimum(1.0, step / float(max(1, self.warmup_steps)))
        return self.peak * fraction

    def get_config(self) -> dict:
        """Serializable configuration."""
        return {"peak": self.peak, "warmup_steps": self.warmup_steps}


@dataclass(frozen=True)
class TrainConfig:
    """How to train: every knob ``benchmarks/train_speed.py`` measures.

    Attributes:
        name: short label used in tables and plots.
        batch_size: images per update.
        optimizer: a ``keras.optimizers.get`` name (``"rmsprop"``, ``"adam"``, ...).
        learning_rate: the peak learning rate.
        warmup_images: linear warm-up of the learning rate over this many
            images (0: none); counted in images so that it does not depend on
            the batch size.
        precision: a Keras dtype policy, ``"float32"`` or ``"mixed_bfloat16"``.
        jit_compile: compile the train step with XLA.
        steps_per_execution: train steps per call into the compiled function.
        model_kwargs: passed to the model builder, e.g.
            ``{"implementation": "fast"}``; ignored when ``fit`` gets a model.
        threads: TensorFlow's CPU thread pools ``(intra_op, inter_op)`` the
            configuration was measured with, or None for TensorFlow's defaults.
            Thread pools belong to the process and are fixed by TensorFlow's
            first operation, so ``fit`` cannot set them: call
            :func:`set_cpu_threads` first thing in a fresh process.
        description: one line for tables.
    """

    name: str
    batch_size: int = 32
    optimizer: str = "rmsprop"
    learning_rate: float = 1e-3
    warmup_images: int = 0
    precision: str = "float32"
    jit_compile: bool = False
    steps_per_execution: int = 1
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    threads: tuple[int, int] | None = None
    description: str = ""

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (``DEFAULT.replace(batch_size=64)``)."""
        return dataclasses.replace(self, **changes)

    def scaled(self, batch_size: int, warmup_images: int = 8192, name: str = "") -> TrainConfig:
        """This configuration at another batch size, learning rate scaled by the
        square root of the batch ratio, with a linear warm-up."""
        factor = (batch_size / self.batch_size) ** 0.5
        return self.replace(
            name=name or f"{self.name}_b{batch_size}",
            batch_size=batch_size,
            learning_rate=self.learning_rate * factor,
            warmup_images=warmup_images,
        )

    def learning_rate_value(self) -> float | keras.optimizers.schedules.LearningRateSchedule:
        """The learning rate, or a :class:`WarmupSchedule` when warming up."""
        steps = self.warmup_images // self.batch_size
        if steps < 1:
            return self.learning_rate
        return WarmupSchedule(self.learning_rate, steps)


#: The Keras example's setup: batch 32, RMSprop(1e-3), float32, keras.layers.LSTM.
KERAS_EXAMPLE = TrainConfig(
    name="keras_example",
    description="Keras example: keras.layers.LSTM, batch 32, RMSprop 1e-3, float32",
)

#: FastLSTM skipping leading blank pixels, otherwise the Keras example's setup.
FAST_SKIP = TrainConfig(
    name="fast_lstm_skip_blank",
    model_kwargs={"implementation": "fast", "skip_blank": True},
    description="FastLSTM, leading blank pixels skipped, batch 32, RMSprop 1e-3",
)

DEFAULT = FAST_SKIP.replace(
    name="fast_skip_chains2_t1",
    model_kwargs={**FAST_SKIP.model_kwargs, "chains": 2},
    threads=(1, 2),
    description="FastLSTM, blanks skipped, 2 independent loops, batch 32, RMSprop 1e-3, "
    "1 intra-op / 2 inter-op threads",
)
"""The fastest configuration that lost no accuracy in ``benchmarks/train_speed.py``.

The same optimizer, batch size and learning rate as :data:`KERAS_EXAMPLE`, so the
same training trajectory up to rounding; only the computation differs:
:class:`fmnist_rnn.fast_lstm.FastLSTM` (same function, hand-written backward
pass), whose first layer skips the blank pixels at the start of each pixel line
(``skip_blank=True``) and cuts each batch into two independent loops
(``chains=2``) that TensorFlow runs on two cores at once when its thread pools are
one intra-op and two inter-op threads (``threads``; set them with
:func:`set_cpu_threads` before TensorFlow's first operation, or the model runs
on TensorFlow's default pools, more slowly). The measurement is in
``benchmarks/results/train_speed.json`` and the appendix *Making LSTMs train fast*.
Override with ``fit(..., config=KERAS_EXAMPLE)`` or ``DEFAULT.replace(...)``.
"""


def set_threads(intra_op: int, inter_op: int) -> bool:
    """Set TensorFlow's CPU thread pools; True if ``(intra_op, inter_op)`` is in force.

    Thread pools are fixed by TensorFlow's first operation in a process. Called
    before it (at the top of a script, or of a notebook before any model is
    built), this sets them; called later it changes nothing and returns False
    unless the pools already match. 0 means "TensorFlow's choice" (one thread
    per core).
    """
    if intra_op < 0 or inter_op < 0:
        raise ValueError(f"thread counts must be >= 0, got ({intra_op}, {inter_op})")
    threading = tf.config.threading
    try:
        threading.set_intra_op_parallelism_threads(intra_op)
        threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:  # TensorFlow has started: the pools are fixed
        pass
    current = (
        threading.get_intra_op_parallelism_threads(),
        threading.get_inter_op_parallelism_threads(),
    )
    return current == (intra_op, inter_op)


def set_cpu_threads(config: TrainConfig = DEFAULT) -> bool:
    """Give TensorFlow the thread pools of ``config.threads``; True if they are in force.

    See :func:`set_threads`, which this calls: it must run before TensorFlow's
    first operation. ``config.threads is None`` leaves TensorFlow's defaults
    and returns True.
    """
    if config.threads is None:
        return True
    return set_threads(*config.threads)


def build_model(
    builder: Callable[..., keras.Model], config: TrainConfig = DEFAULT, **kwargs: Any
) -> keras.Model:
    """Call ``builder`` under ``config.precision``, with ``config.model_kwargs``
    (those the builder accepts) updated by ``kwargs``."""
    accepted = inspect.signature(builder).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    options = {k: v for k, v in config.model_kwargs.items() if takes_any or k in accepted}
    options.update(kwargs)
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(config.precision)
    try:
        return builder(**options)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def compile_model(model: keras.Model, config: TrainConfig = DEFAULT) -> keras.Model:
    """Compile ``model`` with the optimizer, loss and settings of ``config``."""
    optimizer_class = type(keras.optimizers.get(config.optimizer))
    optimizer = optimizer_class(learning_rate=config.learning_rate_value())
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    return model


def prepare(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) -> the float32 (N, 28, 28, 1) tensor the models take."""
    return as_image_tensor(scale(images))


def fit(
    model: keras.Model | Callable[..., keras.Model],
    splits,
    epochs: int,
    config: TrainConfig = DEFAULT,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: str | int = "auto",
    model_kwargs: dict[str, Any] | None = None,
    strategy: tf.distribute.Strategy | None = None,
    seed: int = 0,
) -> keras.callbacks.History:
    """Train on ``splits.x_train`` and validate on ``splits.x_val``.

    Args:
        model: a builder (called through :func:`build_model` with ``config``
            and ``model_kwargs``, then compiled) or a model (compiled with
            ``config`` unless it is compiled already; under a ``strategy`` it
            must have been built inside ``strategy.scope()``).
        splits: a :class:`fmnist_rnn.data.Splits` (uint8 arrays; scaled here).
        epochs: passes over the training split (ask the run profile first).
        config: how to train; default :data:`DEFAULT`. Under a strategy,
            ``config.batch_size`` is the *global* batch (all replicas).
        callbacks: Keras callbacks (checkpoints, early stopping, ...).
        verbose: passed to ``model.fit``.
        model_kwargs: extra builder arguments, e.g. ``{"read": "rows"}``.
        strategy: a ``tf.distribute.Strategy``; default: the default strategy
            (one device). The model and optimizer are built in its scope.
        seed: seed of the per-epoch shuffle (:mod:`fmnist_rnn.pipeline`).

    Returns:
        The Keras ``History``; the trained model is ``history.model``.
    """
    if strategy is not None:
        keras_compat.build_from_spec()  # else Keras 3 skips the first batch (see module)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        if not isinstance(model, keras.Model):
            model = build_model(model, config, **(model_kwargs or {}))
        if not model.compiled:
            compile_model(model, config)
    # Several replicas: every replica gets an equal share of every global batch.
    drop = strategy.num_replicas_in_sync > 1
    train = pipeline.train_dataset(
        splits.x_train,
        splits.y_train,
        config.batch_size,
        epochs,
        seed=seed,
        first_epoch=pipeline.resume_epoch(callbacks),
        drop_remainder=drop,
    )
    return model.fit(
        train,
        epochs=epochs,
        steps_per_epoch=pipeline.steps_per_epoch(len(splits.y_train), config.batch_size, drop),
        validation_data=pipeline.eval_dataset(splits.x_val, splits.y_val, config.batch_size),
        shuffle=False,  # the pipeline shuffles, per epoch
        callbacks=list(callbacks),
        verbose=verbose,
    )
