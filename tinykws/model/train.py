"""Fitting a keyword model: training audio in, a trained Keras model and its history out.

Every epoch sees fresh waveform augmentation of the training clips, turned into
MFCCs with the same extractor the rest of tinykws uses: either the classic one
(speed changes, shifts, gains, noise at an SNR) or, for a share of the clips, *stream windows*
(:class:`tinykws.data.augment.StreamWindows`): the word's spoken part anywhere in
the window over background at stream levels, sometimes only a sliver of a
keyword (labelled ``_unknown_``), and background-only windows for ``_silence_``;
then SpecAugment time masks filled with the MFCC of silence. During the fit the
model is run over a keyword-free training stream and the windows it fires on join
the negatives (hard-negative mining), and the weights kept are those with the
best hit rate on a quiet validation stream at the false-accept target
(:mod:`tinykws.model.streams`). The loss weighs ``_unknown_`` and ``_silence_``
twice as much as a balanced class (``negative_weight``): a stream's false accepts come
from other words, which the small unknown class covers thinly. Each part is a
:class:`FitConfig` switch.

Training is seeded (Python, numpy and TensorFlow through
``keras.utils.set_random_seed``; augmentation and mining from their own
generators) and runs with TensorFlow's op determinism on, so a fit on the same
data and settings repeats exactly on the same machine and TensorFlow build. It
runs under a ``tf.distribute`` strategy (mirrored over several GPUs when there are).
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
from tinykws.model.encoders import apply_encoder, load_encoder, trunk_layers
from tinykws.spec import FeatureSpec


@dataclass
class FitConfig:
    """The settings of one fit (part of a run's ``config.json``); the recipe's defaults are stated here only.

    The stream-facing parts of the recipe can each be switched off (for ablations):

    stream_windows : bool
        Present a share (``augment.stream_share``) of the word clips as a stride-100 ms stream
        would: the spoken part anywhere it fits in the window, over background at stream levels.
    partial_words : bool
        Some stream windows of a keyword hold only a small part of it (``augment.partial_visible``);
        they are labelled ``_unknown_``: there is speech in them, but not the keyword.
    background_windows : bool
        ``_silence_`` examples are, in the same share, background windows at random levels.
    hard_negative_rounds : int
        Times the model is run over a keyword-free training stream during the fit to add the
        windows it fires on to the negatives (0: never).
    stream_checkpoint : bool
        Keep the weights with the best validation-stream hit rate at ``target_fa_per_hour``
        (float model, ``val_stream_minutes`` of quiet stream), instead of the best clip accuracy.
    """

    arch: str = DEFAULT_ARCH
    epochs: int = 70
    batch_size: int = 64
    learning_rate: float = 3e-3
    label_smoothing: float = 0.1
    patience: int = 20
    seed: int = 0
    strategy: str = "auto"
    deterministic: bool = True
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    stream_windows: bool = True
    partial_words: bool = True
    background_windows: bool = True
    hard_negative_rounds: int = 2
    stream_checkpoint: bool = True
    #: Sampled negatives (synthetic non-keywords, mined windows) per epoch, in mean keyword counts.
    negatives_per_epoch: float = 3.0
    mine_threshold: float = 0.3
    mine_stream_minutes: float = 15.0
    val_stream_minutes: float = 15.0
    val_stream_every: int = 4
    target_fa_per_hour: float = 1.0
    #: Loss weight of ``_unknown_`` and ``_silence_`` examples relative to the class-balanced weight:
    #: above 1 a keyword said where there is none costs more than a keyword missed.
    negative_weight: float = 2.0
    #: Starting point of the trunk: ``"pretrained"`` (the shipped encoder, :mod:`tinykws.model.encoders`) or ``"none"``.
    encoder: str = "none"
    #: Leading trunk layers with weights (conv and batch norm, in order) kept at the pretrained encoder's
    #: weights during the fit; -1: the whole trunk (only the classifier learns). 0: every layer learns.
    frozen_trunk: int = 0


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
    label_names : list of str
        The labels in output order (``_unknown_`` and ``_silence_`` are found by name).
    negative_words : list of np.ndarray
        Spoken parts of training-split non-keywords (real and synthetic): the words of the
        hard-negative stream.
    val_stream : Stream or None
        A quiet validation stream (validation speakers and noise) for choosing the checkpoint.
    sampled : np.ndarray [shape=(n,), bool] or None
        Negatives drawn afresh every epoch (a fixed number of them, shared with mined windows),
        such as synthetic non-keywords; every other example is in every epoch.
    """

    audio: np.ndarray
    labels: np.ndarray
    is_silence: np.ndarray
    noise: list[np.ndarray]
    X_val: np.ndarray
    y_val: np.ndarray
    label_names: list[str] = field(default_factory=list)
    negative_words: list[np.ndarray] = field(default_factory=list)
    val_stream: object = None
    sampled: np.ndarray | None = None


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


def class_weights(y: np.ndarray, n: int, *, negative=(), negative_weight: float = 1.0) -> np.ndarray:
    """Per-class loss weights inversely proportional to class frequency (mean 1 over present classes),
    the ``negative`` classes' (``_unknown_``, ``_silence_``) then times ``negative_weight``."""
    counts = np.bincount(y, minlength=n).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / n, 0.0)
    for i in negative:
        w[i] *= negative_weight
    return w.astype(np.float32)


def fit_model(cfg: FitConfig, spec: FeatureSpec, n_labels: int, data: TrainingData, *,
              tensorboard_dir: Path | None = None, say: Callable[[str], None] = lambda s: None,
              progress: bool = True):
    """Build and train ``cfg.arch``; returns ``(model, history)`` with the chosen weights restored.

    Every epoch holds every example that is not ``data.sampled`` plus a fixed number of
    sampled negatives (synthetic non-keywords and mined windows, at most half mined), so
    epochs keep one length while mining adds examples. Time masks fill with the MFCC of
    digital silence. The weights kept are those of the best validation-stream hit rate
    (``stream_checkpoint``), else of the best clip accuracy.
    """
    import keras
    import tensorflow as tf

    from tinykws.data.augment import StreamWindows, spoken_span
    from tinykws.model.streams import mine_windows, negative_stream, stream_hit_rate

    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        # Same seed, data and settings -> the same weights (on the same machine and TF build).
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(cfg.strategy)
    names = list(data.label_names) or [str(i) for i in range(n_labels)]
    unk = names.index("_unknown_") if "_unknown_" in names else None
    sil = names.index("_silence_") if "_silence_" in names else None
    keyword_index = np.array([i for i in range(n_labels) if i not in (unk, sil)], np.int64)
    augmenter = Augmenter(data.noise, spec.sample_rate, cfg.augment)
    windows = StreamWindows(data.noise, spec.sample_rate, cfg.augment)
    rng = np.random.default_rng([cfg.seed, 1])
    spans = np.array([spoken_span(y, spec.sample_rate, cfg.augment.word_span_db) for y in data.audio], np.int64).reshape(-1, 2)
    is_kw = np.isin(data.labels, keyword_index)
    # The pool of training examples grows with mined windows: audio, label, and whether it is a fixed window.
    pool = {"audio": data.audio, "labels": data.labels.astype(np.int64), "is_silence": data.is_silence.astype(bool),
            "fixed": np.zeros(len(data.audio), bool), "spans": spans}
    sampled = np.zeros(len(data.audio), bool) if data.sampled is None else np.asarray(data.sampled, bool)
    always = np.nonzero(~sampled)[0]
    n_kw_mean = max(1.0, is_kw.sum() / max(len(keyword_index), 1))
    n_neg = 0 if unk is None else int(round(cfg.negatives_per_epoch * n_kw_mean))
    if unk is not None and cfg.hard_negative_rounds == 0:
        n_neg = min(n_neg, int(sampled.sum()))
    pool["sampled"] = sampled
    per_epoch = len(always) + n_neg
    steps = int(np.ceil(per_epoch / cfg.batch_size))
    weights_np = class_weights(np.concatenate([data.labels[always], np.full(n_neg, unk if unk is not None else 0)]), n_labels,
                               negative=[i for i in (unk, sil) if i is not None], negative_weight=cfg.negative_weight)

    def epoch_indices():
        mined = np.nonzero(pool["fixed"])[0]
        real_neg = np.nonzero(pool["sampled"] & ~pool["fixed"])[0]
        take_mined = mined if len(mined) <= n_neg // 2 else rng.choice(mined, n_neg // 2, replace=False)
        rest = n_neg - len(take_mined)
        take_neg = rng.choice(real_neg, rest, replace=rest > len(real_neg)) if rest > 0 and len(real_neg) else np.zeros(0, np.int64)
        idx = np.concatenate([always, take_mined, take_neg]).astype(np.int64)
        return idx[rng.permutation(len(idx))]

    def make_batch(idx):
        y_lab = pool["labels"][idx].copy()
        audio = pool["audio"][idx]
        sil_row = pool["is_silence"][idx]
        fixed = pool["fixed"][idx]
        n = len(idx)
        use_stream = rng.random(n) < cfg.augment.stream_share
        partial = rng.random(n) < cfg.augment.partial_share
        words = use_stream & ~sil_row & ~fixed & cfg.stream_windows
        partial &= words & np.isin(y_lab, keyword_index) & cfg.partial_words & (unk is not None or sil is not None)
        bg = use_stream & sil_row & ~fixed & cfg.background_windows
        classic = ~(words | bg)
        out = np.empty_like(audio)
        if classic.any():
            # Fixed (mined) windows are stream audio already: gain only, like silence clips.
            out[classic] = augmenter(audio[classic], sil_row[classic] | fixed[classic], rng)
        if words.any():
            out[words] = windows(audio[words], pool["spans"][idx][words], partial[words], rng)
        if bg.any():
            out[bg] = windows.background(int(bg.sum()), audio.shape[1], rng)
        y_lab[partial] = unk if unk is not None else sil
        x = compute_mfcc(out, spec, workers=1)
        if cfg.augment.time_masks:
            x = time_mask(x, rng, n_masks=cfg.augment.time_masks, max_frames=cfg.augment.time_mask_frames, spec=spec)
        return x, np.eye(n_labels, dtype=np.float32)[y_lab], weights_np[y_lab]

    def epoch_batches():
        # A new generator per epoch: fresh shuffling, negatives, placements, noise and gains.
        order = epoch_indices()
        for b in range(steps):
            yield make_batch(order[b * cfg.batch_size : (b + 1) * cfg.batch_size])

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
        if cfg.encoder == "pretrained":
            enc = load_encoder(cfg.arch, spec)
            apply_encoder(model, enc)
            say(f"encoder: the trunk starts from the pretrained {cfg.arch} encoder ({enc.path.name}, "
                f"R² {enc.meta.get('r2_held_out', '?')} on held-out speakers)")
            if cfg.frozen_trunk:
                layers = trunk_layers(model)
                keep = layers if cfg.frozen_trunk < 0 else layers[: cfg.frozen_trunk]
                for layer in keep:
                    layer.trainable = False
                say(f"encoder: {len(keep)} of the trunk's {len(layers)} layers with weights stay as pretrained")
        elif cfg.frozen_trunk:
            raise UserError("--frozen-trunk keeps pretrained layers: it needs --encoder pretrained")
        schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=max(cfg.epochs * steps, 1), alpha=0.02)
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
            metrics=["accuracy"],
        )
    say(f"model {cfg.arch}: {model.count_params():,} parameters, {count_macs(model):,} MACs; "
        f"{strategy.num_replicas_in_sync} replica(s); {per_epoch} examples per epoch")

    mine_epochs: set[int] = set()
    neg_stream = None
    if cfg.hard_negative_rounds > 0 and unk is not None and len(keyword_index):
        # Rounds spread over the first 70 % of the fit: the model must be good enough for its mistakes to be informative.
        mine_epochs = {max(1, int(round(cfg.epochs * 0.7 * (r + 1) / (cfg.hard_negative_rounds + 1))))
                       for r in range(cfg.hard_negative_rounds)}
        neg_stream = negative_stream(list(data.negative_words), list(data.noise), spec.sample_rate,
                                     cfg.mine_stream_minutes * 60, np.random.default_rng([cfg.seed, 3]))
    use_stream_ckpt = cfg.stream_checkpoint and data.val_stream is not None and len(keyword_index)
    first_check = max(1, int(cfg.epochs * 0.4))
    mined_total = [0]
    stream_log: list[dict] = []

    class StreamSteps(keras.callbacks.Callback):
        """Mining at its epochs; the validation stream every few epochs, keeping the best weights."""

        def __init__(self):
            super().__init__()
            self.best_key = None
            self.best_weights = None

        def on_epoch_end(self, epoch, logs=None):
            e = epoch + 1
            logs = logs if logs is not None else {}
            if e in mine_epochs and neg_stream is not None:
                audio, has_word = mine_windows(self.model, neg_stream, spec, keyword_index, threshold=cfg.mine_threshold,
                                               max_windows=max(1, n_neg // (2 * max(cfg.hard_negative_rounds, 1))))
                if len(audio):
                    lab = np.where(has_word | (sil is None), unk, sil if sil is not None else unk).astype(np.int64)
                    pool["audio"] = np.concatenate([pool["audio"], audio])
                    pool["labels"] = np.concatenate([pool["labels"], lab])
                    pool["is_silence"] = np.concatenate([pool["is_silence"], lab == sil])
                    pool["fixed"] = np.concatenate([pool["fixed"], np.ones(len(audio), bool)])
                    pool["sampled"] = np.concatenate([pool["sampled"], np.ones(len(audio), bool)])
                    pool["spans"] = np.concatenate([pool["spans"], np.tile([0, audio.shape[1]], (len(audio), 1))])
                    mined_total[0] += len(audio)
                say(f"hard negatives after epoch {e}: {len(audio)} windows above {cfg.mine_threshold} "
                    f"({int(has_word.sum())} with a word), {mined_total[0]} in all")
            if use_stream_ckpt and (e >= first_check and ((e - first_check) % cfg.val_stream_every == 0 or e == cfg.epochs)):
                r = stream_hit_rate(self.model, data.val_stream, names, spec, cfg.target_fa_per_hour)
                key = (r["target_met"], r["hit_rate"], -r["fa_per_hour"], float(logs.get("val_accuracy", 0.0)))
                stream_log.append({"epoch": e, **r})
                better = self.best_key is None or key > self.best_key
                if better:
                    self.best_key, self.best_weights = key, self.model.get_weights()
                say(f"validation stream after epoch {e}: {100 * r['hit_rate']:.1f} % hits at {r['fa_per_hour']:g} FA/h "
                    f"(threshold {r['threshold']:.2f}){'  *' if better else ''}")

        def on_train_end(self, logs=None):
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    steps_cb = StreamSteps()
    callbacks = [steps_cb]
    if not use_stream_ckpt:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=cfg.patience,
                                                       restore_best_weights=True, mode="max"))
    if tensorboard_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(tensorboard_dir), write_graph=False, profile_batch=0))
    if progress:
        callbacks.insert(0, epoch_line_callback(say, cfg.epochs))
    with quiet_fd(2):  # tf.data's C++ graph warnings; Python errors still raise
        hist = model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, callbacks=callbacks, verbose=0)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    if stream_log:
        history["validation_stream"] = stream_log
    history["hard_negatives"] = [mined_total[0]]
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
