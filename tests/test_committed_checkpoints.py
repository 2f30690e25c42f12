"""The committed checkpoints: weights only, and each reproduces its recorded test accuracy.

The accuracy check is slow by design (10,000 predictions per checkpoint), and the
reason the chapters may load checkpoints instead of training: what is loaded is
what was measured.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import h5py
import pytest

from fmnist_rnn.checkpoints import CHECKPOINT_DIR, CheckpointError, load_checkpoint, load_record
from fmnist_rnn.data import load_fashion_mnist
from fmnist_rnn.evaluation import evaluate_accuracy
from fmnist_rnn.recipes import get_recipe
from fmnist_rnn.seeds import TRIALS_DIR, chosen_run, seed_runs, trial_recipes

COMMITTED = sorted(p.stem for p in CHECKPOINT_DIR.glob("*.json")) if CHECKPOINT_DIR.is_dir() else []
NONE_REASON = f"no checkpoint committed in {CHECKPOINT_DIR} yet (python -m fmnist_rnn.train NAME)"
EACH = COMMITTED or [pytest.param(None, marks=pytest.mark.skip(reason=NONE_REASON))]


@pytest.fixture(scope="module")
def official_test(data_dir: Path):
    (_, _), (x_test, y_test) = load_fashion_mnist()
    return x_test, y_test


@pytest.mark.slow
@pytest.mark.parametrize("name", EACH)
def test_checkpoint_reproduces_its_test_accuracy(name: str, official_test) -> None:
    model, record = load_checkpoint(name)
    assert record["profile"] == "full", f"{name} was not trained in the full profile"
    assert record["test_size"] == 10_000
    x_test, y_test = official_test
    correct = round(evaluate_accuracy(model, x_test, y_test) * len(y_test))
    assert correct == round(record["test_accuracy"] * len(y_test))  # the same images, exactly


@pytest.mark.parametrize("name", EACH)
def test_checkpoint_holds_weights_only(name: str) -> None:
    with h5py.File(CHECKPOINT_DIR / f"{name}.weights.h5", "r") as weights:
        assert set(weights) <= {"layers", "vars"}, "optimizer state in a committed checkpoint"


@pytest.mark.parametrize("name", EACH)
def test_checkpoint_names_the_exact_commit(name: str) -> None:
    provenance = json.loads((CHECKPOINT_DIR / f"{name}.json").read_text())["provenance"]
    commit = provenance["git_commit"]
    assert re.fullmatch(r"[0-9a-f]{40}", commit)
    assert not provenance.get("git_dirty", False)
    # The commit is part of this repository's history (unless the clone is shallow).
    git = ["git", "-C", str(CHECKPOINT_DIR)]
    shallow = subprocess.run([*git, "rev-parse", "--is-shallow-repository"], capture_output=True)
    if shallow.returncode == 0 and shallow.stdout.strip() == b"false":
        ancestor = subprocess.run([*git, "merge-base", "--is-ancestor", commit, "HEAD"])
        assert ancestor.returncode == 0, f"{name} names {commit}, which is not in the history"


@pytest.mark.skipif(not COMMITTED, reason=NONE_REASON)
def test_a_checkpoint_under_another_builder_is_a_clear_error(tmp_path: Path) -> None:
    name = COMMITTED[0]
    for suffix in (".json", ".weights.h5"):
        shutil.copyfile(CHECKPOINT_DIR / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
    record = json.loads((tmp_path / f"{name}.json").read_text())
    record["builder"] = "simple_rnn_rows" if record["builder"] != "simple_rnn_rows" else "mlp"
    record["builder_kwargs"] = {}
    (tmp_path / f"{name}.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=r"parameters|do not match"):
        load_checkpoint(name, directory=tmp_path)


def test_trials_table_matches_the_trial_records() -> None:
    """The table in checkpoints/trials/README.md is read from the records, not typed."""
    trials = CHECKPOINT_DIR / "trials"
    rows = re.findall(
        r"^\| `([\w-]+)` \| (.*?) \| ([\d.]+) \((\d+)\) \| ([\d.]+) \| ([\d.]+) \|$",
        (trials / "README.md").read_text(),
        flags=re.M,
    )
    folders = sorted(p.name for p in trials.iterdir() if p.is_dir())
    assert sorted(row[0] for row in rows) == folders
    for folder, recipe, best, epoch, train_accuracy, test_accuracy in rows:
        (path,) = (trials / folder).glob("*.json")
        record = json.loads(path.read_text())
        # A commit named in the folder's name or in the row ("code of <commit>") is the run's.
        named = re.findall(r"-([0-9a-f]{7})$", folder) + re.findall(
            r"code of ([0-9a-f]{7})", recipe
        )
        assert all(record["provenance"]["git_commit"].startswith(c) for c in named), folder
        history = record["history"]
        assert float(best) == round(max(history["val_accuracy"]), 4)
        assert int(epoch) == record["best_epoch"]
        assert float(train_accuracy) == round(history["accuracy"][-1], 4)
        assert float(test_accuracy) == record["test_accuracy"]
        assert record["provenance"]["git_dirty"] is False


def test_seeds_table_matches_the_trial_records() -> None:
    """Each recipe tried with several seeds: its row lists every seed's folder, and its
    means are the means of the records' numbers."""
    rows = re.findall(
        r"^\| `([\w]+)` \| ([\d, ]+) \| ([\d., ]+) \| ([\d.]+) \| ([\d., ]+) \| ([\d.]+) \|$",
        (TRIALS_DIR / "README.md").read_text(),
        flags=re.M,
    )
    several = {name: runs for name in trial_recipes() if len(runs := seed_runs(name)) > 1}
    assert sorted(row[0] for row in rows) == sorted(several)
    for name, seeds, vals, val_mean, tests, test_mean in rows:
        runs = several[name]  # seed_runs checks each record's name and seed against its folder
        assert [int(s) for s in seeds.split(",")] == [r.seed for r in runs]
        best = [r.best_val_accuracy for r in runs]
        test = [r.test_accuracy for r in runs]
        assert [float(v) for v in vals.split(",")] == [round(v, 4) for v in best]
        assert [float(v) for v in tests.split(",")] == [round(v, 4) for v in test]
        assert float(val_mean) == round(sum(best) / len(best), 4)
        assert float(test_mean) == round(sum(test) / len(test), 4)


def test_readme_gives_the_measured_training_times() -> None:
    """The README's training times are the recorded wall times: of the committed
    ``two_layer_lstm`` run, and of the former recipe's idle timing run
    (``trials/two_layer_lstm-seed0-463824e``), from whose pace per epoch the idle estimate
    for the committed recipe's epochs follows."""
    readme = (CHECKPOINT_DIR.parents[1] / "README.md").read_text().replace("\n", " ")
    stated = re.search(
        r"committed `two_layer_lstm` run took (\d+) minutes on a 2-core ([\w ]+?) machine,.*?"
        r"expect about (\d+) minutes: the former (\d+)-epoch recipe \(`(\w+)`\),\s+"
        r"timed on an idle 2-core ([\w ]+?) machine, took (\d+) minutes for (\d+) epochs",
        readme,
    )
    assert stated, "README.md no longer states the training times of two_layer_lstm"
    committed_minutes, machine, estimate, former_epochs, base, former_machine = stated.group(
        1, 2, 3, 4, 5, 6
    )
    former_minutes, former_epochs_again = stated.group(7, 8)
    committed = load_record("two_layer_lstm")
    former = load_record("two_layer_lstm", TRIALS_DIR / "two_layer_lstm-seed0-463824e")
    trials_readme = (TRIALS_DIR / "README.md").read_text().replace("\n", " ")
    for record, minutes, cpu in (
        (committed, committed_minutes, machine),
        (former, former_minutes, former_machine),
    ):
        provenance = record["provenance"]
        seconds = provenance["wall_time_s"]
        assert int(minutes) == round(seconds / 60)
        assert f"{seconds:,.0f} s ({round(seconds / 60)} minutes)" in trials_readme
        assert cpu.split() == provenance["cpu"].replace("(R)", "").split()[:2]
        assert provenance["implementation"] == "fast" and provenance["cpu_count"] == 2
        assert "--threads" not in provenance["command"] and not provenance["git_dirty"]
    # The former recipe is the one its name still gives, and the run followed it.
    assert int(former_epochs) == int(former_epochs_again) == former["epochs"]
    assert former["epochs"] == get_recipe(base).epochs and former["name"] == "two_layer_lstm"
    assert not any(former["recipe"].get(k) for k in ("erase", "weight_decay"))  # fields added later
    pace = former["provenance"]["wall_time_s"] / former["epochs"]
    assert int(estimate) == round(pace * get_recipe("two_layer_lstm").epochs / 60)


def test_promoted_checkpoints_are_their_trial_runs() -> None:
    """The two committed two-layer LSTMs are byte-for-byte the trial run of the recipe their
    name now gives whose seed reached the highest best validation accuracy (the record keeps
    the trial's name); every other committed checkpoint was trained under its own name."""
    promoted = {"two_layer_lstm", "two_layer_lstm_rows"}
    assert promoted <= set(COMMITTED)
    for stem in COMMITTED:
        record = json.loads((CHECKPOINT_DIR / f"{stem}.json").read_text())
        if stem not in promoted:
            assert record["name"] == stem
            continue
        name, seed = record["name"], record["recipe"]["seed"]
        assert name != stem and get_recipe(name) == get_recipe(stem)
        folder = TRIALS_DIR / f"{name}-seed{seed}"
        for suffix in (".json", ".weights.h5"):
            assert (CHECKPOINT_DIR / f"{stem}{suffix}").read_bytes() == (
                folder / f"{name}{suffix}"
            ).read_bytes(), f"{stem}{suffix} is not the file in {folder.name}"
        fields = {k: v for k, v in vars(get_recipe(stem)).items() if k not in ("seed",)}
        assert record["epochs"] == fields.pop("epochs")
        assert [record["builder"], record["builder_kwargs"]] == [
            fields.pop("builder"),
            fields.pop("builder_kwargs"),
        ]
        assert {k: record["recipe"][k] for k in fields} == fields
        # The seed the rule picks among the recipe's runs (test accuracy plays no part).
        assert seed == chosen_run(seed_runs(name)).seed
