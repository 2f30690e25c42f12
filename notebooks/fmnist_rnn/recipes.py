"""How each model is trained: ``python -m fmnist_rnn.train NAME`` follows ``RECIPES[NAME]``.

The name is also the checkpoint's name, except for the two committed two-layer LSTMs: each is
a verbatim copy of one seed's run of the trial recipe it now names
(``two_layer_lstm_erase_xl_wd`` / ``two_layer_lstm_rows_erase_xl_wd``), and its record keeps
that trial's name and command.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["RECIPES", "Recipe", "get_recipe"]


@dataclass(frozen=True)
class Recipe:
    """How one named model is trained (every field goes into the run's hash and record).

    Attributes:
        builder, builder_kwargs: a name in :data:`fmnist_rnn.models.BUILDERS`, its arguments.
        optimizer: a ``keras.optimizers.get`` name.
        learning_rate: the peak learning rate.
        batch_size: images per update.
        warmup_images: linear warm-up from a tenth of the peak over this many images.
        epochs: passes over the training split (the schedule spans them).
        cosine: after the warm-up, decay to zero along a half cosine (else: constant).
        shift_pixels: in training only, random sub-pixel shifts of up to this many pixels
            (``RandomTranslation``, bilinear, zeros shifted in; 0: none).
        flip: in training only, mirror each image left-right with probability 1/2
            (``RandomFlip("horizontal")``; garments are roughly symmetric).
        erase: in training only, the probability of replacing one random rectangle of
            each image (sides 14-57% of the image's, about 2-33% of its area) by noise
            (``RandomErasing``, Zhong et al. 2020; 0: none).
        label_smoothing: the share ``epsilon`` of each target spread evenly over the
            classes (Szegedy et al. 2016; 0: plain cross-entropy).
        weight_decay: decoupled weight decay (Loshchilov and Hutter 2019, as Keras
            implements it): before each update every trainable weight, biases included,
            is multiplied by 1 - (the scheduled learning rate of that step) x this share
            (the optimizer's ``weight_decay``; 0: none).
        seed: the random seed of the run.
        why: one line for the chapter.
    """

    builder: str
    builder_kwargs: dict[str, Any] = field(default_factory=dict)
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    batch_size: int = 128
    warmup_images: int = 0
    epochs: int = 20
    cosine: bool = True
    shift_pixels: int = 0
    flip: bool = False
    erase: float = 0.0
    label_smoothing: float = 0.0
    weight_decay: float = 0.0
    seed: int = 0
    why: str = ""


# Batch 64 gives the two-layer LSTM twice the updates per epoch of batch 128.
_TWO_LAYER: dict[str, Any] = {
    "learning_rate": 1.5e-3,
    "batch_size": 64,
    "warmup_images": 55_000,
    "epochs": 30,
    "shift_pixels": 1,
}

# The 45-epoch erasing recipe for the faithful column reader; variants below change a field.
_ERASE_LONG = Recipe(
    "two_layer_lstm",
    {"read": "columns"},
    **{**_TWO_LAYER, "epochs": 45},
    erase=0.5,
    why="the faithful model reading columns, random erasing, 45 epochs",
)

# 30 -> 45 epochs raised validation accuracy the most (0.9114 -> 0.9156), and the three
# 45-epoch seeds peaked late (epochs 38-41): the same recipe over 75 epochs.
_ERASE_XL = replace(
    _ERASE_LONG, epochs=75, why="the faithful model reading columns, random erasing, 75 epochs"
)

# Over 75 epochs the training accuracy rose to 0.96 while validation stayed within
# 0.911-0.919 from epoch 50 on (seed 0: best 0.9190): the same with weight decay. The
# 64,500 learning rates add up to about 48, so decay alone would scale a weight by about
# exp(-0.05 * 48) = 0.09 over the run. Seed 0 reached a best validation accuracy of 0.9244
# (training 0.951 at the end). Three seeds of each reader have run; it is the
# committed two-layer LSTMs' recipe, though it takes about 82 minutes (the README's
# estimate), not the hour first aimed at (no recipe tried reached 0.915 on test within it).
_ERASE_XL_WD = replace(
    _ERASE_XL,
    weight_decay=0.05,
    why="the faithful model reading columns, random erasing, weight decay 0.05, 75 epochs",
)
_ROWS_ERASE_XL_WD = replace(
    _ERASE_XL_WD,
    builder_kwargs={"read": "rows"},
    why="the same model reading rows, random erasing, weight decay 0.05, 75 epochs",
)

#: One recipe per model name (see the module's docstring for the checkpoints' names).
RECIPES: dict[str, Recipe] = {
    "mlp": Recipe("mlp", epochs=20, why="cheap reference"),
    "small_cnn": Recipe("small_cnn", epochs=15, why="the usual image model"),
    "simple_rnn_rows": Recipe("simple_rnn_rows", epochs=15, why="plain RNN, 28 rows"),
    "lstm_rows": Recipe("lstm_rows", epochs=15, why="one LSTM, 28 rows"),
    # The committed two-layer LSTMs: the 75-epoch erasing recipe with weight decay, chosen
    # among the trial recipes on validation accuracy (see checkpoints/trials/README.md).
    "two_layer_lstm": _ERASE_XL_WD,
    "two_layer_lstm_rows": _ROWS_ERASE_XL_WD,
    # Their former recipes (30 epochs, no erasing, no weight decay), which the trial recipes
    # below start from.
    "two_layer_lstm_base": Recipe(
        "two_layer_lstm",
        {"read": "columns"},
        **_TWO_LAYER,
        why="faithful 128/128 model reading columns; warm-up + cosine, random sub-pixel shifts",
    ),
    "two_layer_lstm_rows_base": Recipe(
        "two_layer_lstm",
        {"read": "rows"},
        **_TWO_LAYER,
        why="the same model reading rows, as the Keras example does",
    ),
    # The 30-epoch base against overfitting (train 0.946, validation 0.909):
    # mirrored images and dropout between the two LSTMs; the same weights.
    "two_layer_lstm_flips": Recipe(
        "two_layer_lstm",
        {"read": "columns", "dropout": 0.25},
        **_TWO_LAYER,
        flip=True,
        why="the faithful model reading columns, with left-right flips and dropout 0.25",
    ),
    "two_layer_lstm_rows_flips": Recipe(
        "two_layer_lstm",
        {"read": "rows", "dropout": 0.25},
        **_TWO_LAYER,
        flip=True,
        why="the same model and recipe reading rows",
    ),
    # Flips and dropout lowered the training accuracy (0.925) but not the validation
    # accuracy (0.908): random erasing instead, which helped on Fashion-MNIST (Zhong et al.).
    "two_layer_lstm_erase": Recipe(
        "two_layer_lstm",
        {"read": "columns"},
        **_TWO_LAYER,
        erase=0.5,
        why="the faithful model reading columns, half of the images with a random patch erased",
    ),
    # Erasing still gained on validation near its last epoch (0.9110 at 30, best 0.9114):
    # the same recipe over 45 epochs, the cosine schedule stretched to match.
    "two_layer_lstm_erase_long": _ERASE_LONG,
    # One change on top of the 45-epoch erasing recipe: softer targets.
    "two_layer_lstm_smooth": replace(
        _ERASE_LONG,
        label_smoothing=0.1,
        why="the faithful model reading columns, random erasing, label smoothing 0.1, 45 epochs",
    ),
    "two_layer_lstm_erase_xl": _ERASE_XL,
    "two_layer_lstm_erase_xl_wd": _ERASE_XL_WD,
    # 75 epochs take about 80 minutes on an idle 2-core machine, 45 about 50: weight decay on the
    # 45-epoch recipe, to see how much of the gain remains within an hour (little). Seed 0: best
    # validation 0.9134, below the four runs of the 45-epoch recipe (0.9148-0.9178).
    "two_layer_lstm_erase_long_wd": replace(
        _ERASE_LONG,
        weight_decay=0.05,
        why="the faithful model reading columns, random erasing, weight decay 0.05, 45 epochs",
    ),
    "two_layer_lstm_rows_erase_xl_wd": _ROWS_ERASE_XL_WD,
    # The 45-epoch erasing recipe for the row reader, to compare the readers on one recipe.
    "two_layer_lstm_rows_erase_long": replace(
        _ERASE_LONG,
        builder_kwargs={"read": "rows"},
        why="the same model reading rows, random erasing, 45 epochs",
    ),
    # 16 epochs: a 12-epoch run was still improving on validation at its last epoch.
    "renet": Recipe(
        "renet",
        learning_rate=2e-3,
        warmup_images=55_000,
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
