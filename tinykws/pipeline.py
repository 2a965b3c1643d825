"""Training: dataset folder in, complete run folder out.

:func:`train` runs the whole host pipeline: discover and split the dataset,
load the clips, compute clean features (cached), train a Keras model with fresh
waveform augmentation every epoch under a ``tf.distribute`` strategy, quantize
it to int8, evaluate float and int8 (on TFLM) on the speaker-disjoint test
split, find the smallest TFLM arena, and write the run folder with its report
and C files.

Training is seeded (Python, numpy and TensorFlow through
``keras.utils.set_random_seed``; augmentation from its own generator) and runs
with TensorFlow's op determinism on, so a run on the same data and settings
repeats exactly on the same machine and TensorFlow build.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.data.augment import AugmentConfig, Augmenter
from tinykws.data.dataset import SILENCE, discover, load_examples
from tinykws.errors import UserError
from tinykws.export.carray import RecognizerConfig, model_info, write_model_files
from tinykws.features import FeatureCache, compute_mfcc
from tinykws.io import atomic_write_text
from tinykws.model.architectures import DEFAULT_ARCH, build_model, count_macs
from tinykws.spec import FeatureSpec


@dataclass
class TrainConfig:
    """Everything that decides a run (stored as ``config.json``)."""

    dataset: str
    words: list[str] | None = None
    arch: str = DEFAULT_ARCH
    epochs: int = 80
    batch_size: int = 64
    learning_rate: float = 3e-3
    label_smoothing: float = 0.1
    patience: int = 20
    seed: int = 0
    name: str | None = None
    spec: FeatureSpec = field(default_factory=FeatureSpec)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    recognizer: RecognizerConfig = field(default_factory=RecognizerConfig)
    strategy: str = "auto"
    deterministic: bool = True
    extra_train_dirs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spec"] = self.spec.to_dict()
        return d


def make_strategy(kind: str = "auto"):
    """``tf.distribute`` strategy: mirrored over all GPUs when there are several (or asked for), else default.

    ``"mirrored"`` also mirrors over several logical CPU devices, which is how
    the multi-device path is tested on a machine without GPUs.
    """
    import tensorflow as tf

    if kind == "default":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "mirrored":
        devs = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devs)
    if kind != "auto":
        raise UserError(f"unknown strategy {kind!r} (auto, mirrored, default)")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


class _Log:
    """Progress output: a callable taking one line; rich when on a terminal."""

    def __init__(self, fn: Callable[[str], None] | None):
        self.fn = fn or (lambda s: None)

    def __call__(self, s: str) -> None:
        self.fn(s)


def _new_run_dir(out: Path, name: str) -> tuple[Path, Path]:
    """The run's final path and the hidden work folder it is built in (renamed when complete)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    d = out / f"{stamp}-{safe}"
    i = 1
    while d.exists() or d.with_name(f".{d.name}.partial").exists():
        i += 1
        d = out / f"{stamp}-{safe}-{i}"
    work = d.with_name(f".{d.name}.partial")
    work.mkdir(parents=True)
    return d, work


def _class_weights(y: np.ndarray, n: int) -> np.ndarray:
    counts = np.bincount(y, minlength=n).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / n, 0.0)
    return w.astype(np.float32)


def train(cfg: TrainConfig, out_dir: str | Path = "runs", *, log: Callable[[str], None] | None = None,
          progress: bool = True) -> Path:
    """Train, quantize, evaluate and export; returns the run folder.

    Parameters
    ----------
    cfg : TrainConfig
    out_dir : path
        Parent of the run folder.
    log : callable
        Receives one line per step (the CLI prints them).
    progress : bool
        Show a per-epoch progress line.
    """
    say = _Log(log)
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    spec = cfg.spec
    if cfg.epochs < 1:
        raise UserError("--epochs must be at least 1")
    ds = discover(cfg.dataset, cfg.words, seed=cfg.seed)
    for note in ds.notes:
        say(f"note: {note}")
    labels = ds.labels
    if cfg.extra_train_dirs:
        _add_extra_training_data(ds, cfg.extra_train_dirs, say)
    if len(labels) < 2:
        raise UserError("need at least two classes to train (give more words, or add _background_noise_/)")
    counts = ds.counts()
    for s in ("train", "validation", "test"):
        if sum(counts[s].values()) == 0:
            raise UserError(f"the {s} split is empty: the dataset has too few speakers ({len({e.speaker for e in ds.examples})}) for a speaker-disjoint split")
    missing_train = [l for l in labels if counts["train"][l] == 0]
    if missing_train:
        raise UserError(f"no training examples for: {', '.join(missing_train)}")
    say(f"dataset {ds.root}: {len(ds.examples)} examples, labels {','.join(labels)}; hash {ds.hash[:12]}")
    say("split (train/validation/test): " + ", ".join(f"{l} {counts['train'][l]}/{counts['validation'][l]}/{counts['test'][l]}" for l in labels))

    final, work = _new_run_dir(Path(out_dir), cfg.name or f"{Path(cfg.dataset).resolve().name}-{cfg.arch}")
    say(f"run folder: {final}")
    try:
        _train_into(cfg, ds, counts, labels, work, final.name, say, timing, t0, progress)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    os.replace(work, final)
    return final


def _train_into(cfg, ds, counts, labels, run, run_name, say, timing, t0, progress) -> None:
    spec = cfg.spec
    spec.save(run / "spec.json")
    atomic_write_text(run / "labels.json", json.dumps(labels) + "\n")
    atomic_write_text(run / "config.json", json.dumps(cfg.to_dict(), indent=2, default=str) + "\n")
    atomic_write_text(run / "manifest.csv", ds.manifest_csv())

    # Audio and clean features ------------------------------------------------------
    t = time.perf_counter()
    label_index = {l: i for i, l in enumerate(labels)}
    splits = {}
    notes_all: list[str] = []
    for s in ("train", "validation", "test"):
        ex = ds.split(s)
        Y, notes = load_examples(ex, spec.sample_rate, spec.clip_samples)
        notes_all += [f"{s}: {n}" for n in notes]
        y = np.array([label_index[e.label] for e in ex], np.int64)
        splits[s] = (ex, Y, y)
    for n in notes_all:
        say(f"converted on load — {n}")
    timing["load_audio_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    cache = FeatureCache(spec)
    feats = {}
    hits = 0
    for s, (ex, Y, y) in splits.items():
        keys = [e.sha1 if e.kind == "clip" else "" for e in ex]
        feats[s], h = cache.features(Y, keys)
        hits += h
    timing["features_s"] = round(time.perf_counter() - t, 2)
    say(f"features: {sum(len(v) for v in feats.values())} clips ({hits} from cache) in {timing['features_s']} s")

    # Noise for augmentation: only the training part (first 80 %) of each recording,
    # so test-split silence crops stay unheard.
    from tinykws.data.audio import load_audio

    noise = []
    for p in ds.noise_files:
        a = load_audio(p, spec.sample_rate).y
        noise.append(a[: int(len(a) * 0.8)])

    # Model and training --------------------------------------------------------------
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        # Same seed, data and settings -> the same weights (on the same machine and TF build).
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(cfg.strategy)
    n_labels = len(labels)
    ex_tr, Y_tr, y_tr = splits["train"]
    is_sil = np.array([e.label == SILENCE for e in ex_tr])
    weights = _class_weights(y_tr, n_labels)
    augmenter = Augmenter(noise, spec.sample_rate, cfg.augment)
    rng = np.random.default_rng([cfg.seed, 1])
    steps = int(np.ceil(len(Y_tr) / cfg.batch_size))

    def epoch_batches():
        # A new generator per epoch: fresh shuffling, shifts, noise and gains.
        order = rng.permutation(len(Y_tr))
        for b in range(steps):
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            aug = augmenter(Y_tr[idx], is_sil[idx], rng)
            x = compute_mfcc(aug, spec, workers=1)
            if cfg.augment.time_masks:
                x = _time_mask(x, rng, cfg.augment)
            onehot = np.eye(n_labels, dtype=np.float32)[y_tr[idx]]
            yield x, onehot, weights[y_tr[idx]]

    sig = (
        tf.TensorSpec((None, *spec.input_shape), tf.float32),
        tf.TensorSpec((None, n_labels), tf.float32),
        tf.TensorSpec((None,), tf.float32),
    )
    train_ds = (tf.data.Dataset.from_generator(epoch_batches, output_signature=sig)
                .apply(tf.data.experimental.assert_cardinality(steps)).prefetch(2))
    X_val, y_val = feats["validation"], splits["validation"][2]
    val_ds = tf.data.Dataset.from_tensor_slices((X_val, np.eye(n_labels, dtype=np.float32)[y_val])).batch(256)

    with strategy.scope():
        model = build_model(cfg.arch, spec.input_shape, n_labels)
        schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=max(cfg.epochs * steps, 1), alpha=0.02)
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
            metrics=["accuracy"],
        )
    say(f"model {cfg.arch}: {model.count_params():,} parameters, {count_macs(model):,} MACs; "
        f"{strategy.num_replicas_in_sync} replica(s)")
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=cfg.patience, restore_best_weights=True, mode="max"),
        keras.callbacks.TensorBoard(log_dir=str(run / "tensorboard"), write_graph=False, profile_batch=0),
        _EpochLine(say, cfg.epochs) if progress else keras.callbacks.Callback(),
    ]
    t = time.perf_counter()
    from tinykws.tflm import _quiet_fd

    with _quiet_fd(2):  # tf.data's C++ graph warnings; Python errors still raise
        hist = model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, callbacks=callbacks, verbose=0)
    timing["training_s"] = round(time.perf_counter() - t, 2)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    model.save(run / "model.keras")

    # Quantize, measure, export -------------------------------------------------------
    from tinykws.evaluate import evaluate_models, score_distribution
    from tinykws.quantize import builtin_ops, convert_int8, tflite_io_quantization
    from tinykws.tflm import arena_with_margin, find_min_arena

    t = time.perf_counter()
    tflite = convert_int8(model, feats["train"], seed=cfg.seed)
    (run / "model_int8.tflite").write_bytes(tflite)
    timing["conversion_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    arena_min = find_min_arena(tflite)
    arena = arena_with_margin(arena_min)
    timing["arena_search_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    X_te, y_te = feats["test"], splits["test"][2]
    ev = evaluate_models(model, tflite, X_te, y_te, labels, arena_bytes=arena)
    timing["evaluation_s"] = round(time.perf_counter() - t, 2)
    quant = tflite_io_quantization(tflite)
    ops = builtin_ops(tflite)
    info = model_info(tflite=tflite, labels=labels, spec=spec, quant=quant, arena_min_bytes=arena_min,
                      arena_bytes=arena, ops=ops, recognizer=cfg.recognizer, name=run_name)
    write_model_files(run / "c", info, tflite)
    timing["total_s"] = round(time.perf_counter() - t0, 2)

    report = {
        "run": run_name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "accuracy": ev["accuracy"],
        "n_test": ev["n"],
        "tflm": {
            **ev.get("tflm", {}),
            "arena_bytes": arena_min,
            "arena_bytes_with_margin": arena,
            "note": "int8 accuracy is measured on the TFLM interpreter (reference kernels); "
            "top1_agreement and max_abs_diff compare its raw int8 outputs with tf.lite's on the test split.",
        },
        "model": {
            "arch": cfg.arch,
            "params": int(model.count_params()),
            "macs": count_macs(model),
            "tflite_bytes": len(tflite),
            "sha256": info["model_sha256"],
            "ops": ops,
            **{k: quant[k] for k in ("input_scale", "input_zero_point", "output_scale", "output_zero_point")},
        },
        "spec": {"sha256": spec.sha256, **spec.to_dict()},
        "data": {
            "dataset": str(ds.root),
            "dataset_hash": ds.hash,
            "labels": labels,
            "counts": counts,
            "notes": ds.notes + notes_all,
        },
        "training": {"epochs_run": len(history.get("loss", [])), "best_val_accuracy": max(history.get("val_accuracy", [0.0])),
                     "seed": cfg.seed, "history": history},
        "recognizer": asdict(cfg.recognizer),
        "confusion": ev["confusion"],
        "timing": timing,
    }
    atomic_write_text(run / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(run / "score_distribution.json", json.dumps(score_distribution(ev["scores"], labels)) + "\n")
    atomic_write_text(run / "report.md", render_report_md(report))
    from tinykws.plots import plot_confusion, plot_history

    plot_confusion(np.array(ev["confusion"]["int8"]), labels, "int8 (TFLM), test split", run / "confusion_int8.png")
    if "float" in ev["confusion"]:
        plot_confusion(np.array(ev["confusion"]["float"]), labels, "float, test split", run / "confusion_float.png")
    plot_history(history, run / "training_curves.png")


def _add_extra_training_data(ds, dirs: list[str], say) -> None:
    """Add the clips of other datasets (e.g. synthetic speech) to the training split only.

    Only folders named like one of the run's keywords are used, so the
    validation and test splits stay the main dataset's own speakers. The
    dataset hash then covers both.
    """
    import dataclasses
    import hashlib

    from tinykws.data.dataset import UNKNOWN

    keywords = [l for l in ds.labels if l not in (UNKNOWN, SILENCE)]
    hashes = [ds.hash]
    for d in dirs:
        root = Path(d)
        present = [w for w in keywords if (root / w).is_dir()]
        if not present:
            raise UserError(f"{root}: none of the keywords ({', '.join(keywords)}) has a folder there")
        extra = discover(root, present, include_unknown=False)
        added = [dataclasses.replace(e, split="train", rel=f"{root.name}/{e.rel}") for e in extra.examples
                 if e.kind == "clip" and e.label in present]
        ds.examples.extend(added)
        hashes.append(extra.hash)
        say(f"extra training data {root}: {len(added)} clips ({', '.join(present)})")
    ds.hash = hashlib.sha256(" ".join(hashes).encode()).hexdigest()


def _time_mask(x, rng, aug: AugmentConfig):
    from tinykws.data.augment import time_mask

    return time_mask(x, rng, n_masks=aug.time_masks, max_frames=aug.time_mask_frames)


def _keras_callback_base():
    import keras

    return keras.callbacks.Callback


class _EpochLine:
    """Keras callback printing one line per epoch (built lazily so keras loads only when training)."""

    def __new__(cls, say, epochs):
        base = _keras_callback_base()

        class EpochLine(base):
            def __init__(self):
                super().__init__()
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                dt = time.perf_counter() - self.t
                self.t = time.perf_counter()
                say(f"epoch {epoch + 1:3d}/{epochs}  loss {logs.get('loss', 0):.3f}  acc {logs.get('accuracy', 0):.3f}  "
                    f"val_acc {logs.get('val_accuracy', 0):.3f}  ({dt:.1f} s)")

        return EpochLine()


def render_report_md(r: dict) -> str:
    acc = r["accuracy"]
    fmt = lambda v: "n/a" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    lines = [
        f"# Run {r['run']}",
        "",
        f"Dataset `{r['data']['dataset']}` (hash `{r['data']['dataset_hash'][:16]}`), labels: {', '.join(r['data']['labels'])}.",
        f"Test split: {r['n_test']} clips from speakers not seen in training.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| accuracy, float (Keras) | {fmt(acc['float'])} |",
        f"| accuracy, int8 (TFLM) | {fmt(acc['int8'])} |",
        f"| TFLM vs tf.lite top-1 agreement | {fmt(r['tflm'].get('top1_agreement'))} |",
        f"| TFLM vs tf.lite largest int8 output difference | {r['tflm'].get('max_abs_diff', 'n/a')} steps |",
        f"| model (.tflite) | {r['model']['tflite_bytes']:,} bytes |",
        f"| smallest TFLM arena (host) | {r['tflm']['arena_bytes']:,} bytes (compiled in: {r['tflm']['arena_bytes_with_margin']:,}) |",
        f"| parameters / MACs | {r['model']['params']:,} / {r['model']['macs']:,} |",
        f"| training | {r['training']['epochs_run']} epochs, {r['timing'].get('training_s')} s |",
        "",
        "tf.lite and TFLM are not always bit-identical (per-channel fully connected layers can round one step",
        "apart, and softmax amplifies it); the int8 accuracy above is TFLM's, the kernels the board runs.",
        "",
        "## Per class (int8, TFLM)",
        "",
        "| label | accuracy | test clips |",
        "|---|---|---|",
    ]
    for l, v in acc["per_class"].items():
        lines.append(f"| {l} | {fmt(v)} | {r['data']['counts']['test'].get(l, 0)} |")
    lines += ["", "Plots: `confusion_int8.png`, `confusion_float.png`, `training_curves.png`.", ""]
    return "\n".join(lines)
