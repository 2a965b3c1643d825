"""Clip evaluation: float Keras, int8 on TFLM (the board's kernels), and how tf.lite compares.

:func:`evaluate_models` is used by training (on the test split) and
:func:`evaluate_run_on_dataset` by ``tinykws evaluate`` (on any dataset in the
same layout). int8 accuracy is measured with
:class:`tinykws.boardcode.tflm.TflmModel`; tf.lite's int8 outputs are compared with
TFLM's to report top-1 agreement and the largest raw output difference, because
the two are not always bit-identical.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinykws.data.dataset import SILENCE, UNKNOWN, discover, load_examples
from tinykws.errors import UserError
from tinykws.features import FeatureCache
from tinykws.model.quantize import quantize_input, tflite_predict
from tinykws.boardcode.tflm import TflmModel


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    """``cm[i, j]`` = clips of true class ``i`` predicted as ``j``."""
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def per_class_accuracy(cm: np.ndarray, labels: list[str]) -> dict[str, float | None]:
    out = {}
    for i, l in enumerate(labels):
        n = cm[i].sum()
        out[l] = round(float(cm[i, i] / n), 4) if n else None
    return out


def evaluate_models(
    keras_model,
    tflite: bytes,
    X: np.ndarray,
    y: np.ndarray,
    labels: list[str],
    *,
    arena_bytes: int | None = None,
    compare_tflite: bool = True,
) -> dict:
    """Float and int8 (TFLM) accuracy on features ``X`` with true label indices ``y``.

    Returns
    -------
    dict
        ``accuracy`` (float, int8, per_class of int8, per_class_float), ``n``,
        ``confusion`` (float, int8 as nested lists), ``tflm`` (top1_agreement,
        max_abs_diff against tf.lite), ``scores`` (top int8 score per clip and its
        predicted label, for the run's score distribution).
    """
    n_labels = len(labels)
    out: dict = {"n": int(len(y))}
    if keras_model is not None:
        p_float = keras_model.predict(X, verbose=0, batch_size=256) if len(X) else np.zeros((0, n_labels))
        pred_float = p_float.argmax(axis=1)
    else:
        pred_float = None
    m = TflmModel(tflite, arena_bytes)
    Xq = quantize_input(X, m.input_scale, m.input_zero_point)
    q = m.predict(Xq) if len(Xq) else np.zeros((0, n_labels), np.int8)
    pred_int8 = q.argmax(axis=1)
    scores = (q.astype(np.float32) - m.output_zero_point) * m.output_scale
    cm_int8 = confusion_matrix(y, pred_int8, n_labels)
    acc = {
        "float": round(float(np.mean(pred_float == y)), 4) if pred_float is not None and len(y) else None,
        "int8": round(float(np.mean(pred_int8 == y)), 4) if len(y) else None,
        "per_class": per_class_accuracy(cm_int8, labels),
    }
    out["accuracy"] = acc
    out["confusion"] = {"int8": cm_int8.tolist()}
    if pred_float is not None:
        cm_f = confusion_matrix(y, pred_float, n_labels)
        out["confusion"]["float"] = cm_f.tolist()
        acc["per_class_float"] = per_class_accuracy(cm_f, labels)
    if compare_tflite and len(Xq):
        q_lite = tflite_predict(tflite, Xq)
        diff = np.abs(q_lite.astype(np.int32) - q.astype(np.int32))
        out["tflm"] = {
            "top1_agreement": round(float(np.mean(q_lite.argmax(axis=1) == pred_int8)), 4),
            "max_abs_diff": int(diff.max()),
            "clips_with_any_diff": int(np.count_nonzero(diff.max(axis=1))),
        }
    out["scores"] = {"top": scores.max(axis=1).round(4).tolist(), "pred": pred_int8.tolist(), "true": np.asarray(y).tolist()}
    return out


def score_distribution(scores: dict, labels: list[str]) -> dict:
    """Top score per clip grouped by predicted class: what monitoring compares the board against."""
    per: dict[str, list[float]] = {l: [] for l in labels}
    for s, p in zip(scores["top"], scores["pred"]):
        per[labels[p]].append(float(s))
    return {"per_class": per, "all": [float(s) for s in scores["top"]]}


def keywords_in_dataset(run, dataset) -> tuple[Path, list[str]]:
    """The dataset folder and the run's keywords it has a folder for; :class:`UserError` if none."""
    keywords = [l for l in run.labels if l not in (UNKNOWN, SILENCE)]
    root = Path(dataset)
    if not root.is_dir():
        raise UserError(f"dataset not found: {root}")
    present = [w for w in keywords if (root / w).is_dir()]
    if not present:
        raise UserError(f"{root} has none of the run's keywords ({', '.join(keywords)})")
    return root, present


def evaluate_run_on_dataset(run, dataset, *, log=None) -> dict:
    """Float and int8 (TFLM) accuracy of ``run`` on every clip of its keywords in ``dataset``.

    Folders of other words count as ``_unknown_`` (if the run has that class),
    background noise gives ``_silence_`` crops (if the run has that class). All
    splits are used: the dataset is assumed unseen by the run.
    """
    root, present = keywords_in_dataset(run, dataset)
    ds = discover(root, present, include_unknown=UNKNOWN in run.labels)
    examples = [e for e in ds.examples if e.label in run.labels]
    if not examples:
        raise UserError(f"{root}: no clips for the run's labels")
    idx = {l: i for i, l in enumerate(run.labels)}
    Y, notes = load_examples(examples, run.spec.sample_rate, run.spec.clip_samples)
    if log:
        missing = [l for l in run.labels if l not in (UNKNOWN, SILENCE) and l not in present]
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
