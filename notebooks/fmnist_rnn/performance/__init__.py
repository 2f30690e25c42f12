"""The appendices' machinery: making the two-layer LSTM train fast, and scaling out.

Chapters 1-5 never import this subpackage; appendix A1 (*Making LSTMs train
fast*), appendix A2 (*Scaling out*), the benchmark in ``benchmarks/`` and the
training command's ``--implementation`` option do.

* :mod:`~fmnist_rnn.performance.fast_lstm`: ``FastLSTM`` (the same function as
  ``keras.layers.LSTM``, with a hand-written backward pass) and
  ``fast_two_layer_lstm``, whose weights load into the book's plain Keras model;
* :mod:`~fmnist_rnn.performance.hardware`: which LSTM, how many independent loops
  ("chains") and which TensorFlow thread pools suit this machine;
* :mod:`~fmnist_rnn.performance.configurations`: the training set-ups the speed
  benchmark compares (the Keras example's set-up is the reference);
* :mod:`~fmnist_rnn.performance.speed_benchmark`: training those set-ups side by
  side, one process per TensorFlow thread setting;
* :mod:`~fmnist_rnn.performance.multiworker` and
  :mod:`~fmnist_rnn.performance.worker`: the launcher of a multi-worker job and
  what each worker runs (a custom training loop under
  ``tf.distribute.MultiWorkerMirroredStrategy``).

Importing this package imports nothing heavy; each module imports TensorFlow
when it needs it.
"""
