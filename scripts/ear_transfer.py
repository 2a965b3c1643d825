#!/usr/bin/env python
"""What the pretrained ear (tinykws.ear) hears on the shared Speech Commands folders, and what it passes on.

Trains on MINI's training split (split by speaker as `tinykws train` does, 10 keywords + _unknown_ +
_silence_) and judges on three sets nobody trained on:

- ``mini test``: MINI's own test split;
- ``held-out takes``: DEV's keyword clips that are not in MINI, said by speakers of MINI's validation
  and test splits (voices the training never heard; DEV has no keyword speaker outside MINI);
- ``unseen other words``: DEV's other-word clips of speakers absent from MINI (the half of them whose
  speaker hash is odd); every one should come out ``_unknown_``.

Figures: the teacher (frozen speech embedding, mean+max over 1.5 s, one-hidden-layer MLP) per set and
class. With ``--distill``, also the board's DS-CNN-S (float, clean MFCCs, no augmentation, same epochs
per arm, seed as given): labels only, vs its trunk first trained to regress the teacher's mean window
embedding on every DEV clip not in a judged set (labels unused), then fine-tuned on MINI's labels;
and labels only for twice the epochs (as many gradient epochs as the distilled arm, on labels).

Usage: python scripts/ear_transfer.py [--mini DIR] [--dev DIR] [--seed 0] [--distill] [--epochs 20]
Teacher features are cached (tinykws.paths.cache_dir("ear")), so a rerun costs only the trainings.
Measured figures (seed 0) and what they say: docs/ear.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = "yes,no,up,down,left,right,on,off,stop,go"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _odd_hash(speaker: str) -> bool:
    return int(hashlib.sha1(speaker.encode()).hexdigest()[:8], 16) % 2 == 1


def judged_sets(mini, dev: Path, words: list[str], seed: int):
    """MINI's dataset and splits, the judged DEV sets and the DEV pool free for unlabelled pretraining."""
    from tinykws.data.dataset import AUDIO_SUFFIXES, discover, speaker_of

    ds = discover(mini, words, seed=seed)
    mini_names = {(e.source, Path(e.rel).stem) for e in ds.examples if e.kind == "clip"}
    mini_speakers = {e.speaker for e in ds.examples if e.kind == "clip"}
    held_out = {e.speaker for e in ds.examples if e.kind == "clip" and e.split != "train"}
    takes, others, pool = [], [], []
    for folder in sorted(p for p in dev.iterdir() if p.is_dir() and not p.name.startswith("_")):
        for p in sorted(folder.iterdir()):
            if p.suffix.lower() not in AUDIO_SUFFIXES:
                continue
            spk, word = speaker_of(p), folder.name
            if word in words and spk in held_out and (word, p.stem) not in mini_names:
                takes.append((p, word))
            elif word not in words and spk not in mini_speakers and _odd_hash(spk):
                others.append((p, word))
            elif spk not in held_out:  # train speakers' clips and the even half of the unseen other-word speakers
                pool.append(p)
    return ds, takes, others, pool


def load(paths: list[Path], n: int) -> np.ndarray:
    from tinykws.data.audio import fit_length, load_audio

    return np.stack([fit_length(load_audio(p, 16000).y, n)[0] for p in paths]) if paths else np.zeros((0, n), np.float32)


def table(title: str, rows: list[tuple[str, dict[str, float], int]], labels: list[str]) -> str:
    cols = [l for l in labels if any(l in r for _, r, _ in rows)]
    out = [f"\n{title}", "| set | n | all | " + " | ".join(cols) + " |", "|---|---|---|" + "---|" * len(cols)]
    for name, r, n in rows:
        out.append(f"| {name} | {n} | {100 * r['all']:.1f} % | " + " | ".join(f"{100 * r[c]:.0f}" if c in r else "" for c in cols) + " |")
    return "\n".join(out)


def trunk_and_head(spec, n_labels: int, seed: int):
    import keras

    from tinykws.model.architectures import build_model

    keras.utils.set_random_seed(seed)
    m = build_model("ds-cnn-s", spec.input_shape, n_labels)
    return m, keras.Model(m.input, m.layers[-2].output)  # the pooled 64-d features before the classifier


def fit_labels(model, X, y, epochs: int, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, y, epochs=epochs, batch_size=64, shuffle=True, verbose=0)
    return model


def distill_trunk(trunk, X, target: np.ndarray, epochs: int, seed: int) -> float:
    """Regress the standardised teacher embedding from MFCCs through the trunk; returns the explained variance."""
    import keras

    t = (target - target.mean(0)) / (target.std(0) + 1e-6)
    keras.utils.set_random_seed(seed)
    reg = keras.Sequential([trunk, keras.layers.Dense(t.shape[1], name="to_teacher")])
    reg.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    reg.fit(X, t, epochs=epochs, batch_size=64, shuffle=True, verbose=0)
    return float(1.0 - np.mean((reg.predict(X, verbose=0, batch_size=256) - t) ** 2))


def main(argv: list[str] | None = None) -> int:
    from tinykws.errors import UserError

    try:
        return run(argv)
    except UserError as e:  # a broken dataset folder, the teacher not installed: one line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code


def add_dataset_args(ap: argparse.ArgumentParser) -> None:
    """The options this script and scripts/train_encoder.py share: the two datasets and the seed of the split."""
    ap.add_argument("--mini", type=Path, default=SHARED / "speech_commands_mini")
    ap.add_argument("--dev", type=Path, default=SHARED / "speech_commands_dev")
    ap.add_argument("--seed", type=int, default=0)


def datasets_found(args) -> bool:
    """False, after one error line, when --mini or --dev is not a folder."""
    for d in (args.mini, args.dev):
        if not d.is_dir():
            print(f"error: dataset folder not found: {d}", file=sys.stderr)
            return False
    return True


def run(argv: list[str] | None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_dataset_args(ap)
    ap.add_argument("--words", default=WORDS)
    ap.add_argument("--distill", action="store_true", help="also the DS-CNN-S arms (labels only vs teacher-distilled trunk)")
    ap.add_argument("--epochs", type=int, default=20, help="epochs of each DS-CNN-S stage (--distill)")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not datasets_found(args):
        return 2

    from tinykws.data.dataset import UNKNOWN, load_examples
    from tinykws.ear.head import accuracy_per_class, train_head
    from tinykws.ear.teacher import Teacher
    from tinykws.spec import DEFAULT_SPEC as spec

    t0 = time.perf_counter()
    words = args.words.split(",")
    ds, takes, others, pool = judged_sets(args.mini, args.dev, words, args.seed)
    li = {l: i for i, l in enumerate(ds.labels)}
    n = spec.clip_samples
    sets = {}
    for s in ("train", "test"):
        ex = ds.split(s)
        sets[f"mini {s}"] = (load_examples(ex, spec.sample_rate, n)[0], np.array([li[e.label] for e in ex]))
    sets["held-out takes"] = (load([p for p, _ in takes], n), np.array([li[w] for _, w in takes], np.int64))
    sets["unseen other words"] = (load([p for p, _ in others], n), np.full(len(others), li[UNKNOWN], np.int64))
    judged = ["mini test", "held-out takes", "unseen other words"]
    print(f"mini train {len(sets['mini train'][1])} clips; judged: " + ", ".join(f"{k} {len(sets[k][1])}" for k in judged)
          + f"; unlabelled pool {len(pool)} clips ({time.perf_counter() - t0:.0f} s)", flush=True)

    teacher = Teacher()
    feats = {k: teacher.embed_clips(list(a)) for k, (a, _) in sets.items()}
    print(f"teacher features ({time.perf_counter() - t0:.0f} s)", flush=True)
    head = train_head(feats["mini train"], sets["mini train"][1], len(ds.labels), seed=args.seed)
    rows = [(k, accuracy_per_class(sets[k][1], head.predict(feats[k]), ds.labels), len(sets[k][1])) for k in judged]
    print(table(f"teacher + MLP head (trained on mini train, seed {args.seed}), clip accuracy %", rows, ds.labels), flush=True)

    if args.distill:
        from tinykws.features import compute_mfcc

        X = {k: compute_mfcc(a, spec) for k, (a, _) in sets.items()}
        pool_audio = load(pool, n)
        target = teacher.embed_clips(list(pool_audio))[:, :96]  # mean window embedding over 1.5 s
        X_pool = compute_mfcc(pool_audio, spec)
        print(f"pool features: {len(pool)} clips ({time.perf_counter() - t0:.0f} s)", flush=True)
        ytr = sets["mini train"][1]
        arms = []
        model, _ = trunk_and_head(spec, len(ds.labels), args.seed)
        fit_labels(model, X["mini train"], ytr, args.epochs, args.seed)
        arms.append((f"labels only, {args.epochs} epochs", model))
        model, _ = trunk_and_head(spec, len(ds.labels), args.seed)
        fit_labels(model, X["mini train"], ytr, 2 * args.epochs, args.seed)
        arms.append((f"labels only, {2 * args.epochs} epochs", model))
        print(f"labels only trained ({time.perf_counter() - t0:.0f} s)", flush=True)
        model, trunk = trunk_and_head(spec, len(ds.labels), args.seed)
        r2 = distill_trunk(trunk, X_pool, target, args.epochs, args.seed)
        fit_labels(model, X["mini train"], ytr, args.epochs, args.seed)
        arms.append((f"trunk distilled {args.epochs} epochs (R2 {r2:.2f}), then labels {args.epochs} epochs", model))
        print(f"distilled arm trained ({time.perf_counter() - t0:.0f} s)", flush=True)
        for name, m in arms:
            rows = [(k, accuracy_per_class(sets[k][1], np.argmax(m.predict(X[k], verbose=0, batch_size=256), 1), ds.labels),
                     len(sets[k][1])) for k in judged]
            print(table(f"DS-CNN-S float, {name}, seed {args.seed}", rows, ds.labels), flush=True)
    print(f"\ncommand: python scripts/ear_transfer.py {shlex.join(argv if argv is not None else sys.argv[1:])}"
          f"  ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
