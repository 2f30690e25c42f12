"""Train one model of chapter 4 and write its checkpoint: ``python -m fmnist_rnn.train NAME``.

Run from ``notebooks/`` (or with ``PYTHONPATH=notebooks``)::

    python -m fmnist_rnn.train mlp
    python -m fmnist_rnn.train two_layer_lstm            # resumes if interrupted
    python -m fmnist_rnn.train two_layer_lstm --retrain  # forget the backup, start again

Every model has one :class:`Recipe` in :data:`RECIPES`. A run

1. trains on the fixed train split, validating on the validation split, with a
   per-epoch backup under ``runs/<name>/`` (``keras.callbacks.BackupAndRestore``;
   a killed run continues from its last finished epoch), the per-epoch history
   appended to ``runs/<name>/history.csv``, and the best-on-validation weights
   kept in ``runs/<name>/best.weights.h5``;
2. restores the best-on-validation weights;
3. evaluates them once on the test split;
4. writes ``notebooks/checkpoints/<name>.weights.h5`` and ``<name>.json`` with
   provenance (:func:`fmnist_rnn.checkpoints.save_checkpoint`).

In the smoke profile (``FMNIST_PROFILE=smoke``) the data and epochs are capped
and, unless ``--checkpoint-dir`` / ``--runs-dir`` are given, the outputs go to a
temporary directory, so that tests and CI never touch the committed checkpoints.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from . import checkpoints, models, training
from .data import load_splits
from .evaluation import evaluate_accuracy
from .profiles import get_profile
from .resume import BestWeights, WallClock, read_history, run_start
from .seeding import set_seed

__all__ = ["RECIPES", "Recipe", "main", "train"]

REPO = Path(__file__).resolve().parents[2]
RUNS_DIR = REPO / "runs"


@dataclass(frozen=True)
class Recipe:
    """How one named model is trained.

    Attributes:
        builder: a name in :data:`fmnist_rnn.models.BUILDERS`.
        builder_kwargs: its keyword arguments (recorded in the checkpoint).
        config: optimizer, peak learning rate, batch size, warm-up (images).
        epochs: passes over the training split (the cosine schedule spans them).
        cosine: decay the learning rate to zero along a half cosine after the warm-up.
        shift_pixels: random translations of up to this many pixels during
            training (0: none); an extra layer around the model, never saved.
        seed: the random seed of the run.
        why: one line for the chapter.
    """

    builder: str
    builder_kwargs: dict[str, Any] = field(default_factory=dict)
    config: training.TrainConfig = training.DEFAULT
    epochs: int = 20
    cosine: bool = True
    shift_pixels: int = 0
    seed: int = 0
    why: str = ""


def _adam(batch_size: int = 128, learning_rate: float = 1e-3, warmup_images: int = 0):
    return training.TrainConfig(
        name=f"adam_b{batch_size}",
        batch_size=batch_size,
        optimizer="adam",
        learning_rate=learning_rate,
        warmup_images=warmup_images,
        description=f"Adam {learning_rate:g}, batch {batch_size}",
    )


# FastLSTM skipping leading blanks (benchmarks/train_speed.py), without DEFAULT's
# chains: the checkpoints are trained two at a time, one thread each, and a single
# thread gains nothing from two loops. The optimizer and schedule are the recipe's own.
_FAST = dict(training.FAST_SKIP.model_kwargs)
# Batch 64: on one CPU thread batches of 32-128 train at the same images/s, and the
# smaller batch gives twice the updates per epoch to a model that still underfits
# after 12 epochs at batch 128 (train accuracy 0.90).
_TWO_LAYER = _adam(64, 1.5e-3, warmup_images=55_000)

#: One recipe per model name; the name is also the checkpoint's name.
RECIPES: dict[str, Recipe] = {
    "mlp": Recipe("mlp", config=_adam(128), epochs=20, why="cheap reference"),
    "small_cnn": Recipe("small_cnn", config=_adam(128), epochs=15, why="the usual image model"),
    "simple_rnn_rows": Recipe(
        "simple_rnn_rows", config=_adam(128), epochs=15, why="plain RNN, 28 rows"
    ),
    "lstm_rows": Recipe("lstm_rows", config=_adam(128), epochs=15, why="one LSTM, 28 rows"),
    "two_layer_lstm": Recipe(
        "two_layer_lstm",
        {"read": "columns", **_FAST},
        _TWO_LAYER,
        epochs=30,
        shift_pixels=1,
        why="faithful 128/128 model reading columns; cosine schedule, 1-pixel shifts",
    ),
    "two_layer_lstm_rows": Recipe(
        "two_layer_lstm",
        {"read": "rows", **_FAST},
        _TWO_LAYER,
        epochs=30,
        shift_pixels=1,
        why="the same model reading rows, as the Keras example does",
    ),
    # 16 epochs: a 12-epoch run was still improving on validation at its last epoch.
    "renet": Recipe(
        "renet",
        config=_adam(128, 2e-3, warmup_images=55_000),
        epochs=16,
        shift_pixels=1,
        why="bidirectional LSTM sweeps down, up, left and right at two scales; dropout",
    ),
}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; a clear error listing the valid names otherwise."""
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def _learning_rate(recipe: Recipe, steps_per_epoch: int, epochs: int):
    config = recipe.config
    if not recipe.cosine:
        return config.learning_rate_value()
    warmup = min(config.warmup_images // config.batch_size, steps_per_epoch * epochs // 2)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10 if warmup else config.learning_rate,
        decay_steps=max(1, steps_per_epoch * epochs - warmup),
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def _with_shifts(model: keras.Model, pixels: int) -> keras.Model:
    """The model behind a random-translation layer (active in training only)."""
    if pixels <= 0:
        return model
    factor = pixels / 28
    inputs = keras.Input(model.input_shape[1:], name="image")
    shifted = keras.layers.RandomTranslation(
        factor, factor, fill_mode="constant", fill_value=0.0, name="shift"
    )(inputs)
    return keras.Model(inputs, model(shifted), name=f"{model.name}_shifted")


def train(
    name: str,
    epochs: int | None = None,
    retrain: bool = False,
    checkpoint_dir: Path | None = None,
    runs_dir: Path | None = None,
    verbose: str | int = "auto",
    command: str | None = None,
) -> Path:
    """Train model ``name`` by its recipe and write its checkpoint; return the JSON path.

    Args:
        name: a key of :data:`RECIPES`.
        epochs: override the recipe's epochs (the profile may cap them further).
        retrain: delete the run's backup and history first.
        checkpoint_dir: where the checkpoint goes (default: the committed folder).
        runs_dir: where backups and history go (default: ``runs/`` at the repo root).
        verbose: passed to ``model.fit`` (progress bars by default).
        command: recorded in the provenance (default: the command line).
    """
    recipe = get_recipe(name)
    profile = get_profile()
    commit = checkpoints.git_commit()  # the code this attempt starts from
    command = command or checkpoints.current_command()
    epochs = profile.epochs(epochs or recipe.epochs)
    run_dir = Path(runs_dir or RUNS_DIR) / name
    if retrain and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    start = run_start(run_dir, commit, command)  # differs from commit/command on a resume

    set_seed(recipe.seed)
    splits = load_splits(profile)
    config = recipe.config
    model = training.build_model(
        models.get_builder(recipe.builder), config, **recipe.builder_kwargs
    )
    trained = _with_shifts(model, recipe.shift_pixels)
    steps = math.ceil(len(splits.y_train) / config.batch_size)
    optimizer_class = type(keras.optimizers.get(config.optimizer))
    trained.compile(
        optimizer=optimizer_class(learning_rate=_learning_rate(recipe, steps, epochs)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    best = BestWeights(model, run_dir)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=False),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        best,
        clock := WallClock(run_dir / "wall_time.json"),
    ]
    training.fit(trained, splits, epochs, config, callbacks=callbacks, verbose=verbose)
    wall = clock.total()
    best_epoch = best.restore()

    test_accuracy = evaluate_accuracy(model, splits.x_test, splits.y_test)
    history = read_history(run_dir / "history.csv")
    prov = checkpoints.provenance(command, wall, commit=commit)
    if checkpoint_dir is None and profile.is_smoke:
        checkpoint_dir = Path(tempfile.mkdtemp(prefix="fmnist_smoke_checkpoints_"))
    path = checkpoints.save_checkpoint(
        model,
        name,
        recipe.builder,
        recipe.builder_kwargs,
        history,
        test_accuracy,
        extra={
            "profile": profile.name,
            "run_start": start,
            "best_epoch": best_epoch + 1,
            "epochs": epochs,
            "test_size": len(splits.y_test),
            "recipe": {
                "optimizer": config.optimizer,
                "learning_rate": config.learning_rate,
                "batch_size": config.batch_size,
                "warmup_images": config.warmup_images,
                "cosine": recipe.cosine,
                "shift_pixels": recipe.shift_pixels,
                "seed": recipe.seed,
                "why": recipe.why,
            },
        },
        prov=prov,
        directory=checkpoint_dir,
    )
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m fmnist_rnn.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", help=f"one of: {', '.join(sorted(RECIPES))}")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe")
    parser.add_argument("--retrain", action="store_true", help="discard the backup, start again")
    parser.add_argument("--checkpoint-dir", type=Path, default=None)
    parser.add_argument("--runs-dir", type=Path, default=None)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="TensorFlow threads (intra- and inter-op); 1 lets two trainings share 2 cores",
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be at least 1")
        if not training.set_threads(args.threads, args.threads):
            parser.error("--threads came after TensorFlow started; the pools are fixed")
    if args.name not in RECIPES:
        parser.error(f"unknown model {args.name!r}; valid names: {', '.join(sorted(RECIPES))}")
    command = " ".join(
        ["python -m fmnist_rnn.train", *(argv if argv is not None else sys.argv[1:])]
    )
    path = train(
        args.name,
        args.epochs,
        args.retrain,
        args.checkpoint_dir,
        args.runs_dir,
        verbose="auto" if sys.stdout.isatty() else 2,
        command=command,
    )
    record = json.loads(path.read_text())
    print(f"{args.name}: test accuracy {record['test_accuracy']:.4f}; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
