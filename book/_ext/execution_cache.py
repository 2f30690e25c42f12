"""One execution cache per profile and per version of the code the chapters run.

Jupyter Book's cache (``execute_notebooks: cache``) keys a notebook's outputs on the
notebook's code cells alone. The outputs also depend on ``FMNIST_PROFILE`` (``smoke`` runs
every chapter on a small subset) and on the files the chapters read: the helper package
``notebooks/fmnist_rnn``, the committed checkpoints, the benchmark and its results, and the
pinned library versions (``constraints.txt``). This extension gives each combination its
own cache folder, ``_build/.jupyter_cache/<profile>-<digest>``, so that

* a smoke build is never served as the full book (and its pages say that they are smoke);
* a change to the package or a checkpoint re-executes the chapters instead of showing
  results of older code;
* with nothing changed, a rebuild executes no notebook, and a changed chapter re-executes
  only itself.

Older caches of the same profile are removed; the other profile's cache is kept.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
PROFILE_VARIABLE = "FMNIST_PROFILE"
# What a chapter's outputs depend on besides its own code cells (globs relative to REPO).
INPUTS = (
    "notebooks/fmnist_rnn/**/*.py",
    "notebooks/checkpoints/*",
    "benchmarks/**/*.py",
    "benchmarks/results/**/*",
    "constraints.txt",
)


def inputs_digest(root: Path = REPO) -> str:
    """A short digest of the files the chapters read (the notebooks themselves excluded)."""
    digest = hashlib.sha256()
    for pattern in INPUTS:
        for path in sorted(root.glob(pattern)):
            if path.is_file():
                digest.update(path.relative_to(root).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def _choose_cache(app: Sphinx, config: Config) -> None:
    profile = os.environ.get(PROFILE_VARIABLE) or "full"
    if profile != "full":
        options = dict(config.html_theme_options or {})
        options["announcement"] = (
            f"Built with {PROFILE_VARIABLE}={profile}: a quick check on a small subset, "
            "not the book's results."
        )
        config.html_theme_options = options
    if config.nb_execution_mode != "cache":
        return
    base = Path(app.outdir).parent / ".jupyter_cache"
    folder = base / f"{profile}-{inputs_digest()}"
    if base.is_dir():
        for old in base.glob(f"{profile}-*"):
            if old != folder and old.is_dir():
                LOGGER.info("execution cache: removing outdated %s", old)
                shutil.rmtree(old)
    # A new value of this option makes Sphinx re-read every page (it is an "env" option).
    config.nb_execution_cache_path = str(folder)
    LOGGER.info("execution cache for profile %r: %s", profile, folder)


def setup(app: Sphinx) -> dict:
    # After MyST-NB has registered its options, before it reads them (builder-inited).
    app.connect("config-inited", _choose_cache, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
