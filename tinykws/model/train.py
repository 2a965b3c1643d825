"""Fitting a keyword model: training audio in, a trained Keras model and its history out.

Every epoch sees fresh waveform augmentation (shifts, gains, noise at an SNR,
time masks) of the training clips, turned into MFCCs with the same extractor
the rest of tinykws uses. Training is seeded (Python, numpy and TensorFlow
through ``keras.utils.set_random_seed``; augmentation from its own generator)
and runs with TensorFlow's op determinism on, so a fit on the same data and
settings repeats exactly on the same machine and TensorFlow build. It runs
under a ``tf.distribute`` strategy (mirrored over several GPUs when there are).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.data.augment import AugmentConfig, Augmenter, time_mask
from tinykws.errors import UserError
from tinykws.features import compute_mfcc
from tinykws.io import quiet_fd
from tinykws.model.architectures import DEFAULT_ARCH, build_model, count_macs
from tinykws.spec import FeatureSpec


@dataclass
class FitConfig:
    """The settings of one fit (part of a run's ``config.json``)."""

    arch: str = DEFAULT_ARCH
    epochs: int = 80
    batch_size: int = 64
    learning_rate: float = 3e-3
    label_smoothing: float = 0.1
    patience: int = 20
    seed: int = 0
    strategy: str = "auto"
    deterministic: bool = True
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class TrainingData:
    """What a fit learns from.

    Attributes
    ----------
    audio : np.ndarray [shape=(n, clip_samples), float32]
        Training clips (augmented afresh every epoch).
    labels : np.ndarray [shape=(n,), int]
        Label index of each clip.
    is_silence : np.ndarray [shape=(n,), bool]
        Clips of the silence class (augmentation keeps them speech-free).
    noise : list of np.ndarray
        Background recordings to mix in (their training part only).
    X_val, y_val : np.ndarray
        Clean validation features ``[m, n_frames, n_mfcc]`` and label indices.
    """

    audio: np.ndarray
    labels: np.ndarray
    is_silence: np.ndarray
    noise: list[np.ndarray]
    X_val: np.ndarray
    y_val: np.ndarray


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


def class_weights(y: np.ndarray, n: int) -> np.ndarray:
    """Per-class loss weights inversely proportional to class frequency (mean 1 over present classes)."""
    counts = np.bincount(y, minlength=n).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / n, 0.0)
    return w.astype(np.float32)


def fit_model(cfg: FitConfig, spec: FeatureSpec, n_labels: int, data: TrainingData, *,
              tensorboard_dir: Path | None = None, say: Callable[[str], None] = lambda s: None,
              progress: bool = True):
    """Build and train ``cfg.arch``; returns ``(model, history)`` with the best validation weights restored."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        # Same seed, data and settings -> the same weights (on the same machine and TF build).
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(cfg.strategy)
    weights = class_weights(data.labels, n_labels)
    augmenter = Augmenter(data.noise, spec.sample_rate, cfg.augment)
    rng = np.random.default_rng([cfg.seed, 1])
    steps = int(np.ceil(len(data.audio) / cfg.batch_size))

    def epoch_batches():
        # A new generator per epoch: fresh shuffling, shifts, noise and gains.
        order = rng.permutation(len(data.audio))
        for b in range(steps):
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            aug = augmenter(data.audio[idx], data.is_silence[idx], rng)
            x = compute_mfcc(aug, spec, workers=1)
            if cfg.augment.time_masks:
                x = time_mask(x, rng, n_masks=cfg.augment.time_masks, max_frames=cfg.augment.time_mask_frames)
            onehot = np.eye(n_labels, dtype=np.float32)[data.labels[idx]]
            yield x, onehot, weights[data.labels[idx]]

    sig = (
        tf.TensorSpec((None, *spec.input_shape), tf.float32),
        tf.TensorSpec((None, n_labels), tf.float32),
        tf.TensorSpec((None,), tf.float32),
    )
    train_ds = (tf.data.Dataset.from_generator(epoch_batches, output_signature=sig)
                .apply(tf.data.experimental.assert_cardinality(steps)).prefetch(2))
    val_ds = tf.data.Dataset.from_tensor_slices((data.X_val, np.eye(n_labels, dtype=np.float32)[data.y_val])).batch(256)

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
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=cfg.patience, restore_best_weights=True, mode="max")]
    if tensorboard_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(tensorboard_dir), write_graph=False, profile_batch=0))
    if progress:
        callbacks.append(epoch_line_callback(say, cfg.epochs))
    with quiet_fd(2):  # tf.data's C++ graph warnings; Python errors still raise
        hist = model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, callbacks=callbacks, verbose=0)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    return model, history


def epoch_line_callback(say: Callable[[str], None], epochs: int):
    """A Keras callback printing one line per epoch (the class is made here so keras loads only when training)."""
    import keras

    class EpochLine(keras.callbacks.Callback):
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
