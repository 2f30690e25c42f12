"""fmnist_rnn.training: prepare, and fit on the train split, validating on the val split."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fmnist_rnn import training
from fmnist_rnn.data import Splits
from fmnist_rnn.models import two_layer_lstm


@pytest.fixture(scope="module")
def splits() -> Splits:
    rng = np.random.default_rng(0)

    def part(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28), dtype=np.uint8)
        images[np.arange(n), labels, :] = 255  # the label is the bright row: learnable
        return images, labels

    return Splits(*part(96), *part(48), *part(32))


def test_prepare_scales_and_adds_the_channel_axis() -> None:
    images = np.array([[[0] * 28] * 27 + [[255] * 28]], dtype=np.uint8)
    prepared = training.prepare(images)
    assert prepared.shape == (1, 28, 28, 1) and prepared.dtype == np.float32
    assert prepared[0, 27, 0, 0] == 1.0 and prepared[0, 0, 0, 0] == 0.0
    with pytest.raises(ValueError, match="uint8"):
        training.prepare(prepared[..., 0])  # scaled twice is refused


def test_fit_compiles_trains_and_validates_on_the_validation_split(splits) -> None:
    keras.utils.set_random_seed(0)
    model = two_layer_lstm(units=8, read="rows")
    history = training.fit(model, splits, epochs=3, batch_size=16, verbose=0, learning_rate=1e-2)
    assert history.model is model and isinstance(model.optimizer, keras.optimizers.RMSprop)
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][-1] < history.history["loss"][0]
    # The validation numbers are the model's on x_val (independently recomputed).
    probabilities = model.predict(training.prepare(splits.x_val), verbose=0)
    accuracy = np.mean(probabilities.argmax(axis=1) == splits.y_val)
    assert history.history["val_accuracy"][-1] == pytest.approx(accuracy, abs=1e-6)


def named_images(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Random images whose pixel (0, 0) is their index, and labels index % 10."""
    images = np.random.default_rng(1).integers(0, 256, (count, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = np.arange(count)
    return images, (np.arange(count) % 10).astype(np.uint8)


def names(x) -> np.ndarray:
    """The names (pixel (0, 0)) of a batch of prepared images."""
    return np.rint(keras.ops.convert_to_numpy(x[:, 0, 0, 0]) * 255).astype(int)


def visit(shuffle: training.EpochShuffle, epoch: int, images, labels) -> list[int]:
    """The order in which ``shuffle.dataset`` visits the images in epoch ``epoch``."""
    shuffle.on_epoch_begin(epoch)
    seen = [(x.numpy(), y.numpy()) for x, y in shuffle.dataset]
    assert [len(y) for _, y in seen] == [16, 16, 16, 2]
    x = np.concatenate([x for x, _ in seen])
    y = np.concatenate([y for _, y in seen])
    order = names(x)
    assert sorted(order) == list(range(len(labels)))  # each image once
    np.testing.assert_array_equal(x, training.prepare(images[order]))  # unchanged
    np.testing.assert_array_equal(y, labels[order])  # with its own label
    return list(order)


def test_epoch_shuffle_gives_each_epoch_its_own_order_from_the_seed_and_epoch() -> None:
    images, labels = named_images(50)
    shuffle = training.EpochShuffle(images, labels, batch_size=16, seed=3)
    assert shuffle.dataset.options().autotune.enabled is False
    orders = [visit(shuffle, epoch, images, labels) for epoch in range(3)]
    assert orders[0] != list(range(50))
    assert len({tuple(order) for order in orders}) == 3  # a new order every epoch
    # The order depends on (seed, epoch) alone: not on the epochs run before, nor on
    # the global random state, nor on the object (a resumed run builds a new one).
    keras.utils.set_random_seed(99)
    again = training.EpochShuffle(images, labels, batch_size=16, seed=3)
    assert visit(again, 2, images, labels) == orders[2]
    assert visit(again, 0, images, labels) == orders[0]
    other = training.EpochShuffle(images, labels, batch_size=16, seed=4)
    assert visit(other, 0, images, labels) != orders[0]


def test_batches_keep_the_order_and_bad_inputs_are_refused() -> None:
    images, labels = named_images(50)
    in_order = np.concatenate([y.numpy() for _, y in training.batches(images, labels, 16)])
    np.testing.assert_array_equal(in_order, labels)
    for make in (training.batches, lambda x, y, b: training.EpochShuffle(x, y, b, seed=0)):
        with pytest.raises(ValueError, match="50 images but 49 labels"):
            make(images, labels[:49], 16)
        with pytest.raises(ValueError, match="no images"):
            make(images[:0], labels[:0], 16)
    with pytest.raises(ValueError, match="batch size must be at least 1"):
        training.EpochShuffle(images, labels, 0, seed=0)


class Recorder(keras.layers.Layer):
    """Passes its input on; in training, keeps the names (pixel (0, 0)) of each batch."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[np.ndarray] = []

    def call(self, x, training=None):
        if training:  # eager (run_eagerly=True): a concrete batch
            self.seen.append(names(x))
        return x


def test_fit_feeds_each_epoch_the_order_of_its_own_seed_and_epoch(splits) -> None:
    images, labels = named_images(50)
    recorder = Recorder()
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), recorder, keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    model.compile(
        keras.optimizers.SGD(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=True,
    )
    named = Splits(images, labels, splits.x_val, splits.y_val, splits.x_test, splits.y_test)
    training.fit(model, named, epochs=3, batch_size=16, verbose=0, seed=7)
    assert [len(batch) for batch in recorder.seen] == [16, 16, 16, 2] * 3
    seen = np.concatenate(recorder.seen).reshape(3, 50)
    for epoch in range(3):
        np.testing.assert_array_equal(seen[epoch], training.epoch_order(50, 7, epoch).numpy())
    assert len({tuple(order) for order in seen}) == 3


class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch == 1:
            raise KeyboardInterrupt


def test_a_resumed_fit_ends_with_the_weights_of_the_uninterrupted_one(splits, tmp_path) -> None:
    def trained(
        seed: int, backup=None, interrupt=False, global_seed=0, seeded=True
    ) -> list[np.ndarray]:
        keras.utils.set_random_seed(global_seed)  # 0: the same initial weights
        model = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                keras.layers.RandomTranslation(0.1, 0.1),  # random layers, whose state
                keras.layers.Dropout(0.2),  # Keras's backup does not save
                keras.layers.Flatten(),
                keras.layers.Dense(10),
            ]
        )
        model.compile(
            keras.optimizers.Adam(0.01),  # with a state to resume
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        callbacks = [] if backup is None else [keras.callbacks.BackupAndRestore(str(backup))]
        callbacks += [Interrupt()] if interrupt else []
        if seeded:
            training.fit(model, splits, 3, 16, callbacks, verbose=0, seed=seed)
        else:  # training.fit's shuffle alone, without EpochSeeds
            shuffle = training.EpochShuffle(splits.x_train, splits.y_train, 16, seed)
            model.fit(
                shuffle.dataset, epochs=3, callbacks=[shuffle, *callbacks], shuffle=False, verbose=0
            )
        return model.get_weights()

    def distance(weights: list[np.ndarray], reference: list[np.ndarray]) -> float:
        return max(float(np.abs(a - b).max()) for a, b in zip(reference, weights, strict=True))

    for seeded in (True, False):
        uninterrupted = trained(seed=5, seeded=seeded)
        with pytest.raises(KeyboardInterrupt):  # stops after epoch 2 of 3
            trained(seed=5, backup=tmp_path / str(seeded), interrupt=True, seeded=seeded)
        # Restores epoch 2's end (every weight), runs epoch 3. With EpochSeeds the random
        # layers' states come from (seed, epoch), whatever the global seed; without, from
        # the global seed, as in the first attempt: they start their sequence again.
        global_seed = 1 if seeded else 0
        resumed = trained(
            seed=5, backup=tmp_path / str(seeded), global_seed=global_seed, seeded=seeded
        )
        if seeded:
            assert distance(resumed, uninterrupted) < 1e-6
            assert distance(trained(seed=6), uninterrupted) > 1e-3  # another seed: elsewhere
        else:
            assert distance(resumed, uninterrupted) > 1e-3


def augmented(seed: int, epoch: int, global_seed: int = 0) -> np.ndarray:
    """Two training batches through a fresh shift + dropout model in epoch ``epoch``."""
    keras.utils.set_random_seed(global_seed)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.RandomTranslation(0.2, 0.2),
            keras.layers.Dropout(0.5),
        ]
    )
    assert len(training.random_states(model)) == 2  # one generator per random layer
    seeds = training.EpochSeeds(seed)
    seeds.set_model(model)
    seeds.on_epoch_begin(epoch)
    x = training.prepare(named_images(4)[0])
    return np.stack([keras.ops.convert_to_numpy(model(x, training=True)) for _ in range(2)])


def test_epoch_seeds_draw_the_random_layers_from_the_seed_and_epoch_alone() -> None:
    draws = augmented(seed=3, epoch=1)
    x = training.prepare(named_images(4)[0])
    assert not np.allclose(draws[0], x) and not np.allclose(draws[0], draws[1])  # random
    np.testing.assert_array_equal(augmented(seed=3, epoch=1, global_seed=99), draws)
    assert not np.allclose(augmented(seed=3, epoch=2), draws)  # each epoch its own draws
    assert not np.allclose(augmented(seed=4, epoch=1), draws)


def test_random_states_are_the_random_layers_states_each_epoch_its_own(splits) -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.BatchNormalization(),  # non-trainable weights, not random
            keras.layers.Dropout(0.3),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(10),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    states = training.random_states(model)
    assert [id(s) for s in states] == [
        id(layer.seed_generator.state) for layer in model.layers[2:4]
    ]
    seeds = training.EpochSeeds(2)
    seeds.set_model(model)
    seeds.on_epoch_begin(0)
    values = [tuple(keras.ops.convert_to_numpy(s)) for s in states]
    assert values[0] != values[1]  # two layers, two streams
    history = training.fit(model, splits, epochs=1, batch_size=16, verbose=0, seed=2)
    assert training.random_states(history.model) == states  # fitted, with metrics: the same
    after = [tuple(keras.ops.convert_to_numpy(s)) for s in states]
    steps = -(-len(splits.y_train) // 16)
    # In the epoch each layer drew once per batch, from the state set at its start.
    assert after == [(a, b + steps) for a, b in values]


def test_fit_keeps_a_model_compiled_by_the_caller(splits) -> None:
    model = two_layer_lstm(units=4)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    training.fit(model, splits, epochs=1, verbose=0)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # learning rate 0: the caller's optimizer ran


def test_smoothed_crossentropy_matches_the_smoothed_targets_by_hand() -> None:
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10), size=6).astype("float32")
    labels = rng.integers(0, 10, size=6)
    epsilon = 0.1
    targets = np.full((6, 10), epsilon / 10)
    targets[np.arange(6), labels] += 1 - epsilon
    by_hand = -(targets * np.log(probabilities)).sum(axis=1)
    loss = training.smoothed_crossentropy(epsilon)(labels[:, None], probabilities)
    np.testing.assert_allclose(np.asarray(loss), by_hand, rtol=1e-5)
    plain = -np.log(probabilities[np.arange(6), labels])
    np.testing.assert_allclose(
        np.asarray(training.smoothed_crossentropy(0.0)(labels, probabilities)), plain, rtol=1e-5
    )


@pytest.mark.parametrize("epsilon", [-0.1, 1.0, 1.5])
def test_smoothed_crossentropy_rejects_a_share_outside_0_1(epsilon: float) -> None:
    with pytest.raises(ValueError, match="label smoothing must be in"):
        training.smoothed_crossentropy(epsilon)
