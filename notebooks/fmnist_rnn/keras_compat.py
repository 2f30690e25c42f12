"""One work-around for Keras 3 (checked with 3.15.1) under ``tf.distribute`` strategies.

When a model was created inside a strategy's scope, Keras's TensorFlow trainer
builds its metrics and optimizer at the start of ``fit``/``evaluate`` from a
real batch (``TensorFlowTrainer._maybe_symbolic_build``):

* it draws that batch with ``next()`` from the *training iterator*; with
  ``steps_per_epoch`` (the iterator then lives across epochs) the first batch
  of the run is never trained on and every later step sees the batch meant for
  the step after it;
* it averages the per-replica batches with ``strategy.reduce``, which raises
  ``Attempt to convert a value (PerReplica...) to a Tensor`` under
  ``MultiWorkerMirroredStrategy`` (a nested batch is not a single tensor).

:func:`build_from_spec` replaces that method by one that builds from zeros of
the dataset's element spec: no batch is consumed and nothing crosses the
network. Building only creates variables (their values are the model's and
the optimizer's initial ones), so the result is the same model.

A second one, multi-worker only: the logs of every step (loss, accuracy, one
scalar per replica) are averaged over the workers with
``strategy.reduce("MEAN", value, axis=0)``, which fails on a scalar
(``Invalid reduction dimension 0 for input with 0 dimensions``). The patched
``reduce_per_replica`` averages scalars with ``axis=None``. It touches only
the logged numbers, never the gradients (those are all-reduced by the
optimizer).
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["build_from_spec"]

_PATCHED = "_fmnist_rnn_build_from_spec"


def _zeros(spec: tf.TensorSpec) -> tf.Tensor:
    return tf.zeros([dim or 1 for dim in spec.shape], spec.dtype)


def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    if self._distribute_strategy is None:
        return  # as in Keras: no strategy, build when the step is traced
    if iterator is not None:
        spec = iterator.data_adapter.get_tf_dataset().element_spec
        data_batch = tf.nest.map_structure(_zeros, spec)
    with self.distribute_strategy.scope():
        self._symbolic_build(data_batch=data_batch)


def _scalar_safe(original):
    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not _multi_worker(strategy):
            return original(values, strategy, reduction)

        def reduce(value):
            local = strategy.experimental_local_results(value)[0]
            if local.shape.rank == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return original(value, strategy, reduction)

        return tf.nest.map_structure(reduce, values)

    return reduce_per_replica


def _multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode()
    )


def build_from_spec() -> None:
    """Install both work-arounds (idempotent; only the TensorFlow backend is affected)."""
    if keras.backend.backend() != "tensorflow":
        return
    from keras.src.backend.tensorflow import trainer

    if not getattr(trainer.TensorFlowTrainer, _PATCHED, False):
        trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
        trainer.reduce_per_replica = _scalar_safe(trainer.reduce_per_replica)
        setattr(trainer.TensorFlowTrainer, _PATCHED, True)
