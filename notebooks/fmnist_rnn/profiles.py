"""Run profiles, chosen by ``FMNIST_PROFILE``: ``full`` (default) or ``smoke`` (CI's).

Notebooks never hard-code sizes or epochs; they ask the profile::

    profile = get_profile()
    epochs = profile.epochs(20)          # 20 in full, 1 in smoke
    n = profile.count(10_000, "train")   # 10000 in full, 1500 in smoke
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["ENV_PROFILE", "PROFILES", "Profile", "get_profile"]

ENV_PROFILE = "FMNIST_PROFILE"
DEFAULT_PROFILE = "full"


@dataclass(frozen=True)
class Profile:
    """How much data and how many epochs a run may use (``None``: no cap)."""

    name: str
    max_train: int | None
    max_val: int | None
    max_test: int | None
    max_epochs: int | None
    description: str

    @property
    def is_smoke(self) -> bool:
        """True for the quick profile that CI runs."""
        return self.name == "smoke"

    def epochs(self, requested: int) -> int:
        """The number of epochs to run when a chapter asks for ``requested``."""
        if requested < 1:
            raise ValueError(f"epochs must be at least 1, got {requested}")
        return requested if self.max_epochs is None else min(requested, self.max_epochs)

    def count(self, requested: int | None, split: str = "train") -> int | None:
        """How many examples of ``split`` to use for ``requested`` (``None``: the whole split)."""
        caps = {"train": self.max_train, "val": self.max_val, "test": self.max_test}
        if split not in caps:
            raise ValueError(f"unknown split {split!r}; expected one of {sorted(caps)}")
        cap = caps[split]
        if requested is None:
            return cap
        if requested < 1:
            raise ValueError(f"requested size must be at least 1, got {requested}")
        return requested if cap is None else min(requested, cap)


PROFILES: dict[str, Profile] = {
    "full": Profile(
        "full", None, None, None, None, "all 70,000 images, the epochs each chapter asks for"
    ),
    "smoke": Profile(
        "smoke", 1500, 500, 500, 1, "1,500 train / 500 val / 500 test images, 1 epoch"
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name``, or the one ``FMNIST_PROFILE`` selects; ValueError if unknown."""
    if name is None:
        name = os.environ.get(ENV_PROFILE, "").strip() or DEFAULT_PROFILE
    key = name.strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"unknown run profile {name!r} (from {ENV_PROFILE} or the argument); "
            f"valid profiles: {', '.join(sorted(PROFILES))}"
        )
    return PROFILES[key]
