"""Training speed of the two-layer LSTM on CPU: configurations side by side.

The measurement is ``fmnist_rnn.performance.speed_benchmark.run`` (same initial
weights and images for every configuration, interleaved stretches, medians); the
configurations are ``fmnist_rnn.performance.configurations.configurations()``,
the Keras example's set-up first (the reference). This script is the command
line: it picks the configurations, runs them, prints the table and writes the
JSON that appendix A1 shows.

Usage (from the repository root)::

    export FASHION_MNIST_DIR=/path/to/fashion-mnist
    python benchmarks/train_speed.py --rounds 6 --chunk 2048 \
        --json benchmarks/results/train_speed.json
    python benchmarks/train_speed.py --quick            # about a minute
    python benchmarks/train_speed.py --only fast_skip_chains2_t1 --chunk 512 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from fmnist_rnn import data
from fmnist_rnn.checkpoints import provenance
from fmnist_rnn.performance import configurations, hardware, speed_benchmark


def main(argv: list[str] | None = None) -> dict:
    """Command line entry point; returns the result written with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 configurations, ~1 minute")
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    parser.add_argument("--chunk", type=int, help="images per timed stretch")
    parser.add_argument("--rounds", type=int, help="timed stretches per configuration")
    parser.add_argument("--only", help="comma-separated names (plus the Keras example)")
    parser.add_argument("--val-images", type=int, help="validation images per curve point")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per request")
    args = parser.parse_args(argv)
    every = configurations.configurations(quick=args.quick and not args.only)
    if args.only:
        names = {"keras_example", *(n.strip() for n in args.only.split(",") if n.strip())}
        unknown = sorted(names - {c.name for c in every})
        if unknown:
            valid = ", ".join(c.name for c in every)
            parser.error(f"unknown configuration(s) {', '.join(unknown)}; valid: {valid}")
        every = [c for c in every if c.name in names]
    chunk = args.chunk or (512 if args.quick else 2048)
    rounds = args.rounds or (3 if args.quick else 6)
    val_images = args.val_images or (500 if args.quick else 1000)
    path = hardware.choose_fast_path()
    print(f"this machine's fast path: {path.describe()}")
    chosen = configurations.for_fast_path(path)
    splits = data.load_splits()
    load_before, started = os.getloadavg(), time.time()
    # Provenance is read before training, so that it describes the code that ran.
    info = provenance(command=" ".join(["python", "benchmarks/train_speed.py", *sys.argv[1:]]))
    rows = speed_benchmark.run(
        every, splits, chunk, rounds, val_images, timeout=args.timeout, chosen=chosen
    )
    result = {
        "provenance": {
            **info,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "wall_seconds": time.time() - started,
            "chunk_images": chunk,
            "rounds": rounds,
            "val_images_per_curve_point": val_images,
            "usable_cores": hardware.usable_cores(),
            "fast_path": path.describe(),
            "profile": os.environ.get("FMNIST_PROFILE", "full"),
        },
        "configurations": rows,
    }
    print(speed_benchmark.table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
