"""Evaluate a trained run on another dataset folder (all of its clips)."""

from __future__ import annotations

import numpy as np

from tinykws.data.dataset import SILENCE, UNKNOWN, discover, load_examples
from tinykws.errors import UserError
from tinykws.evaluate import evaluate_models
from tinykws.features import FeatureCache


def evaluate_run_on_dataset(run, dataset, *, log=None) -> dict:
    """Float and int8 (TFLM) accuracy of ``run`` on every clip of its keywords in ``dataset``.

    Folders of other words count as ``_unknown_`` (if the run has that class),
    background noise gives ``_silence_`` crops (if the run has that class). All
    splits are used: the dataset is assumed unseen by the run.
    """
    keywords = [l for l in run.labels if l not in (UNKNOWN, SILENCE)]
    from pathlib import Path

    root = Path(dataset)
    if not root.is_dir():
        raise UserError(f"dataset not found: {root}")
    present = [w for w in keywords if (root / w).is_dir()]
    if not present:
        raise UserError(f"{root} has none of the run's keywords ({', '.join(keywords)})")
    ds = discover(root, present, include_unknown=UNKNOWN in run.labels)
    examples = [e for e in ds.examples if e.label in run.labels]
    if not examples:
        raise UserError(f"{root}: no clips for the run's labels")
    idx = {l: i for i, l in enumerate(run.labels)}
    Y, notes = load_examples(examples, run.spec.sample_rate, run.spec.clip_samples)
    if log:
        missing = [w for w in keywords if w not in present]
        if missing:
            log(f"note: no folder for {', '.join(missing)}")
        for n in notes:
            log(f"converted on load — {n}")
    X, _ = FeatureCache(run.spec).features(Y, [e.sha1 if e.kind == "clip" else "" for e in examples])
    y = np.array([idx[e.label] for e in examples])
    res = evaluate_models(run.keras_model(), run.tflite_bytes, X, y, run.labels, arena_bytes=run.arena_bytes)
    res.pop("scores", None)
    res["dataset_hash"] = ds.hash
    return res
