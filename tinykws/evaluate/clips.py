"""Honest evaluation: float Keras, int8 on TFLM (the board's kernels), and how tf.lite compares.

:func:`evaluate_models` is used by training (on the test split) and by
``tinykws evaluate`` (on any dataset in the same layout). int8 accuracy is
measured with :class:`tinykws.tflm.TflmModel`; tf.lite's int8 outputs are
compared with TFLM's to report top-1 agreement and the largest raw output
difference, because the two are not always bit-identical.
"""

from __future__ import annotations

import numpy as np

from tinykws.quantize import quantize_input, tflite_predict
from tinykws.tflm import TflmModel


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
