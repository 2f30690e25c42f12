"""Train one model of the book and write its checkpoint: ``python -m fmnist_rnn.train NAME``.

::

    python -m fmnist_rnn.train two_layer_lstm            # resumes if interrupted
    python -m fmnist_rnn.train two_layer_lstm --retrain  # forget the backup, start again

A run follows ``RECIPES[NAME]`` in its own folder ``runs/<name>-<profile>-<implementation>-
<hash>/`` (per-epoch backup, history, best-on-validation weights, ``recipe.json``; a folder
of another recipe is refused), restores the best-on-validation weights, evaluates them once
on the test split and writes ``<name>.weights.h5`` and ``<name>.json`` with provenance: in
the full profile into ``notebooks/checkpoints/``, only from a clean git tree. With
``--implementation auto`` the two-layer LSTM trains through the appendix's fast CPU path
when :mod:`fmnist_rnn.performance` recommends it; the plain Keras model is what is saved.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import checkpoints
from .profiles import Profile, get_profile
from .recipes import RECIPES, Recipe, get_recipe
from .resume import RunError, claim_run_folder, run_folder

__all__ = ["IMPLEMENTATIONS", "RECIPES", "Recipe", "fast_path", "get_recipe", "main", "train"]

REPO = Path(__file__).resolve().parents[2]
RUNS_DIR = REPO / "runs"
IMPLEMENTATIONS = ("auto", "keras", "fast")


def fast_path(requested: str, builder: str):
    """The appendix's ``FastPath`` for this run, or None for the plain Keras model.

    Only the two-layer LSTM has one. ``"auto"`` follows ``performance.hardware``'s choice
    (Keras when that subpackage is absent); ``"fast"`` requires it.
    """
    if requested not in IMPLEMENTATIONS:
        raise ValueError(f"unknown implementation {requested!r}; expected one of {IMPLEMENTATIONS}")
    if requested == "keras" or builder != "two_layer_lstm":
        return None
    try:
        from .performance import hardware
    except ImportError as error:
        if requested == "fast":
            raise RunError(
                f"--implementation fast needs fmnist_rnn.performance: {error}"
            ) from error
        return None
    path = hardware.choose_fast_path()
    return path if requested == "fast" or path.implementation == "fast" else None


def _optimizer(recipe: Recipe, steps: int):
    """The recipe's optimizer (and weight decay) with Keras's warm-up + cosine schedule over
    ``steps`` updates."""
    import keras

    warmup = min(recipe.warmup_images // recipe.batch_size, steps // 2)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=recipe.learning_rate / 10 if warmup else recipe.learning_rate,
        decay_steps=max(1, steps - warmup),
        alpha=0.0 if recipe.cosine else 1.0,  # alpha=1: constant after the warm-up
        warmup_target=recipe.learning_rate if warmup else None,
        warmup_steps=warmup,
    )
    return type(keras.optimizers.get(recipe.optimizer))(
        learning_rate=schedule, weight_decay=recipe.weight_decay or None
    )


def _with_augmentation(model, recipe: Recipe):
    """The model behind the recipe's random flips, shifts, erasing (training only, not saved)."""
    import keras

    if recipe.shift_pixels <= 0 and not recipe.flip and recipe.erase <= 0:
        return model
    inputs = keras.Input(model.input_shape[1:], name="image")
    x = keras.layers.RandomFlip("horizontal", name="flip")(inputs) if recipe.flip else inputs
    if recipe.shift_pixels > 0:
        factor = recipe.shift_pixels / 28
        x = keras.layers.RandomTranslation(
            factor, factor, fill_mode="constant", fill_value=0.0, name="shift"
        )(x)
    if recipe.erase > 0:
        x = keras.layers.RandomErasing(
            (recipe.erase, recipe.erase), (0.02, 0.33), value_range=(0.0, 1.0), name="erase"
        )(x)
    return keras.Model(inputs, model(x), name=f"{model.name}_augmented")


def train(
    name: str,
    epochs: int | None = None,
    retrain: bool = False,
    checkpoint_dir: Path | None = None,
    runs_dir: Path | None = None,
    verbose: str | int = "auto",
    command: str | None = None,
    implementation: str = "auto",
    profile: Profile | None = None,
    callbacks: Sequence[Any] = (),
    seed: int | None = None,
) -> Path:
    """Train model ``name`` by its recipe and write its checkpoint; return the JSON path.

    ``epochs`` overrides the recipe's (the profile may cap them); ``retrain`` deletes the
    run's folder first; ``checkpoint_dir`` defaults to the committed folder in the full
    profile, the run folder otherwise; ``runs_dir`` to ``runs/``; ``command`` (recorded in
    the provenance) to the command line; ``implementation`` is ``"auto"``, ``"keras"`` or
    ``"fast"`` (:func:`fast_path`); ``profile`` defaults to the active one;
    ``seed`` overrides the recipe's (a run of its own, recorded as such).

    Raises:
        RunError: the run folder holds another run, or a full-profile run would
            write the committed checkpoints from a tree with uncommitted changes.
    """
    import keras

    from . import models, training
    from .data import load_splits
    from .evaluation import evaluate_accuracy
    from .resume import read_history, run_start, wall_clock
    from .seeding import set_seed

    recipe = get_recipe(name)
    if seed is not None:
        recipe = dataclasses.replace(recipe, seed=seed)
    profile = profile or get_profile()
    commit = checkpoints.git_commit()  # the code this attempt starts from
    if checkpoint_dir is None and profile.name == "full" and checkpoints.git_dirty():
        raise RunError(
            "tracked files have uncommitted changes: a checkpoint written now would not name "
            "the code that trained it. Commit first (or pass --checkpoint-dir elsewhere)."
        )
    command = command or " ".join(["python -m fmnist_rnn.train", *sys.argv[1:]])
    epochs = profile.epochs(epochs or recipe.epochs)
    path = fast_path(implementation, recipe.builder)
    used = "keras" if path is None else "fast"
    run_dir, identity = run_folder(name, recipe, profile, epochs, used, runs_dir or RUNS_DIR)
    claim_run_folder(run_dir, identity, retrain)
    start = run_start(run_dir, commit, command)  # differs from commit/command on a resume

    set_seed(recipe.seed)
    splits = load_splits(profile)
    plain = models.get_builder(recipe.builder)(**recipe.builder_kwargs)
    model = plain
    if path is not None:
        from .performance import fast_lstm

        model = fast_lstm.fast_two_layer_lstm(
            **recipe.builder_kwargs, skip_blank=True, chains=path.chains
        )
    trained = _with_augmentation(model, recipe)
    steps = math.ceil(len(splits.y_train) / recipe.batch_size) * epochs
    trained.compile(
        optimizer=_optimizer(recipe, steps),
        loss=training.smoothed_crossentropy(recipe.label_smoothing)
        if recipe.label_smoothing
        else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    best_path = run_dir / "best.weights.h5"
    seen = read_history(run_dir / "history.csv").get("val_accuracy", [])  # earlier attempts
    clock, wall_time = wall_clock(run_dir / "wall_time.json")
    fit_callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=False),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        keras.callbacks.ModelCheckpoint(
            str(best_path),
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=max(seen, default=None),
        ),
        clock,
        *callbacks,
    ]
    training.fit(
        trained, splits, epochs, recipe.batch_size, fit_callbacks, verbose, seed=recipe.seed
    )
    trained.load_weights(best_path)
    plain.set_weights(model.get_weights())  # the fast path's weights, in the plain model

    history = read_history(run_dir / "history.csv")
    details = {} if path is None else {"fast_path": {"chains": path.chains, "reason": path.reason}}
    # Every field of the recipe but the model and the epochs, which the record has already.
    skipped = {"builder", "builder_kwargs", "epochs"}
    recorded = [f.name for f in dataclasses.fields(recipe) if f.name not in skipped]
    extra = {
        "profile": profile.name,
        "run_start": start,
        "best_epoch": 1 + history["val_accuracy"].index(max(history["val_accuracy"])),
        "epochs": epochs,
        "test_size": len(splits.y_test),
        "recipe": {k: getattr(recipe, k) for k in recorded},
    }
    if checkpoint_dir is None:
        checkpoint_dir = checkpoints.CHECKPOINT_DIR if profile.name == "full" else run_dir
    return checkpoints.save_checkpoint(
        plain,
        name,
        recipe.builder,
        recipe.builder_kwargs,
        history,
        evaluate_accuracy(plain, splits.x_test, splits.y_test),
        extra,
        checkpoints.provenance(command, wall_time(), commit, implementation=used, **details),
        checkpoint_dir,
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m fmnist_rnn.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", help=f"one of: {', '.join(sorted(RECIPES))}")
    parser.add_argument("--epochs", type=int, help="override the recipe")
    parser.add_argument("--seed", type=int, help="override the recipe's random seed")
    parser.add_argument("--retrain", action="store_true", help="discard the backup, start again")
    parser.add_argument("--implementation", choices=IMPLEMENTATIONS, default="auto")
    parser.add_argument("--checkpoint-dir", type=Path)
    parser.add_argument("--runs-dir", type=Path)
    parser.add_argument("--threads", type=int, help="TensorFlow's intra- and inter-op threads")
    args = parser.parse_args(argv)
    if args.name not in RECIPES:
        parser.error(f"unknown model {args.name!r}; valid names: {', '.join(sorted(RECIPES))}")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    try:
        path = fast_path(args.implementation, RECIPES[args.name].builder)
    except RunError as error:
        parser.error(str(error))
    if path is None:
        print(f"implementation: keras (plain keras.layers.LSTM; asked for {args.implementation})")
    else:
        print(f"implementation: fast, {path.chains} chain(s): {path.reason}")
    if args.threads is not None:
        import tensorflow as tf  # the pools can be set before TensorFlow's first operation only

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    elif path is not None:
        from .performance import hardware

        hardware.apply_threads(path)
    command = " ".join(["python -m fmnist_rnn.train", *(sys.argv[1:] if argv is None else argv)])
    try:
        record_path = train(
            args.name,
            args.epochs,
            args.retrain,
            args.checkpoint_dir,
            args.runs_dir,
            verbose="auto" if sys.stdout.isatty() else 2,
            command=command,
            implementation=args.implementation,
            seed=args.seed,
        )
    except RunError as error:
        parser.exit(2, f"error: {error}\n")
    record = json.loads(record_path.read_text())
    print(f"{args.name}: test accuracy {record['test_accuracy']:.4f}; wrote {record_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
