"""Which LSTM implementation, how many chains and which thread pools suit this machine.

One function decides (:func:`choose_fast_path`); the training command, the speed
benchmark and appendix A1 call it and print what it chose:

* a GPU is visible: ``keras.layers.LSTM`` with its default arguments, which
  TensorFlow runs on cuDNN's fused kernel (far faster than any CPU variant);
* CPU only: :func:`~fmnist_rnn.performance.fast_lstm.fast_two_layer_lstm` with as
  many independent loops ("chains") as this process may use cores (at most
  :data:`MAX_CHAINS`), one intra-op thread per operation (more if there are more
  cores than chains) and one inter-op thread per chain, so that the chains run
  side by side. One core: one chain, one thread.

The 2-core rule (2 chains, 1 intra-op / 2 inter-op threads) is the one measured in
``benchmarks/results/train_speed.json``; on more cores the same rule is a
reasoned extrapolation, worth checking with ``benchmarks/train_speed.py``.

TensorFlow fixes its thread pools at its first operation, so
:func:`apply_threads` must run before anything else touches TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MAX_CHAINS", "FastPath", "apply_threads", "choose_fast_path", "usable_cores"]

#: More chains than this leave each loop too few sequences of a batch of 32.
MAX_CHAINS = 8


@dataclass(frozen=True)
class FastPath:
    """How to train the two-layer LSTM fast on this machine.

    Attributes:
        implementation: ``"keras"`` (``keras.layers.LSTM``; cuDNN on a GPU) or
            ``"fast"`` (:class:`~fmnist_rnn.performance.fast_lstm.FastLSTM`).
        chains: independent loops per batch in the first LSTM (``"fast"`` only).
        threads: TensorFlow's ``(intra_op, inter_op)`` pools, or None to keep
            TensorFlow's defaults.
        reason: why, in one sentence.
    """

    implementation: str
    chains: int
    threads: tuple[int, int] | None
    reason: str

    def describe(self) -> str:
        """One line for a log or a page."""
        if self.implementation == "keras":
            what = "keras.layers.LSTM"
        else:
            what = f"FastLSTM, blank pixels skipped, {self.chains} chain(s)"
        pools = (
            "TensorFlow's default thread pools"
            if self.threads is None
            else f"{self.threads[0]} intra-op / {self.threads[1]} inter-op thread(s)"
        )
        return f"{what} on {pools}: {self.reason}"

    def model_kwargs(self) -> dict:
        """Arguments of ``fast_two_layer_lstm`` for this path (empty for ``"keras"``;
        ``chains`` only when more than the default one)."""
        if self.implementation == "keras":
            return {}
        return {"skip_blank": True, **({"chains": self.chains} if self.chains > 1 else {})}

    def build(self, units: int = 128, read: str = "columns", name: str | None = None):
        """The two-layer LSTM on this path (plain Keras or fast; the same weights)."""
        if self.implementation == "keras":
            from ..models import two_layer_lstm

            return two_layer_lstm(units=units, read=read, name=name)
        from .fast_lstm import fast_two_layer_lstm

        return fast_two_layer_lstm(units, read, name=name, **self.model_kwargs())


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, e.g. under ``taskset``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def choose_fast_path(cores: int | None = None, gpus: Sequence | None = None) -> FastPath:
    """Decide how to train the two-layer LSTM fast here.

    Args:
        cores: usable CPU cores (default: :func:`usable_cores`).
        gpus: the visible GPUs (default: ``tf.config.list_physical_devices("GPU")``,
            which imports TensorFlow but runs no operation: the thread pools can
            still be set afterwards).
    """
    if gpus is None:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return FastPath("keras", 1, None, f"{len(gpus)} GPU(s) visible: cuDNN's fused LSTM")
    cores = usable_cores() if cores is None else int(cores)
    if cores < 1:
        raise ValueError(f"cores must be at least 1, got {cores}")
    if cores == 1:
        return FastPath("fast", 1, (1, 1), "one usable core: one chain, one thread")
    chains = min(cores, MAX_CHAINS)
    intra = max(1, cores // chains)
    per_chain = "one core per chain" if intra == 1 else f"{intra} cores per chain"
    return FastPath(
        "fast", chains, (intra, chains), f"{cores} usable CPU cores and no GPU: {per_chain}"
    )


def apply_threads(path: FastPath) -> bool:
    """Give TensorFlow the thread pools of ``path``; True if they are in force.

    Call it before TensorFlow's first operation (at the top of a script, or of a
    notebook before any model is built); later it changes nothing and returns
    False unless the pools already match. ``path.threads is None`` returns True.
    """
    if path.threads is None:
        return True
    import tensorflow as tf

    threading = tf.config.threading
    try:
        threading.set_intra_op_parallelism_threads(path.threads[0])
        threading.set_inter_op_parallelism_threads(path.threads[1])
    except RuntimeError:  # TensorFlow has started: the pools are fixed
        pass
    current = (
        threading.get_intra_op_parallelism_threads(),
        threading.get_inter_op_parallelism_threads(),
    )
    return current == tuple(path.threads)
