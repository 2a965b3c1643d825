"""A small classifier on the teacher's clip features, and the teacher's clip figure.

:class:`MLPHead` is one hidden layer (ReLU) and a softmax, trained with Adam on standardised
features, in numpy: it needs neither TensorFlow nor a GPU, trains on a few thousand clips in
seconds and gives the same weights for the same seed. :func:`teacher_clip_figure` is what a
pipeline calls: train the head on a run's training split, judge it on another split, and return
the accuracy per class ("what this data can give", beside the board model's figure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MLPHead:
    """``softmax(relu(((x - mean) / std) @ w1 + b1) @ w2 + b2)``."""

    mean: np.ndarray
    std: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def _hidden(self, X: np.ndarray) -> np.ndarray:
        return np.maximum(((X - self.mean) / self.std) @ self.w1 + self.b1, 0.0)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``[n, n_classes]`` of features ``X [n, d]``."""
        z = self._hidden(np.asarray(X, np.float32)) @ self.w2 + self.b2
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.argmax(self.predict_proba(X), axis=1)


def train_head(X: np.ndarray, y: np.ndarray, n_classes: int, *, hidden: int = 256, epochs: int = 60,
               batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-4, seed: int = 0,
               sample_weight: np.ndarray | None = None) -> MLPHead:
    """Fit an :class:`MLPHead` on features ``X [n, d]`` and label indices ``y [n]`` (cross-entropy, Adam).

    ``sample_weight [n]`` scales each example's loss (default: all 1).
    """
    X = np.asarray(X, np.float32)
    y = np.asarray(y, np.int64)
    if len(X) == 0 or len(X) != len(y):
        raise ValueError(f"train_head needs as many labels as rows, got {len(X)} rows and {len(y)} labels")
    sw = np.ones(len(y), np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32).reshape(-1)
    if len(sw) != len(y):
        raise ValueError(f"train_head needs one sample weight per row, got {len(sw)} for {len(y)} rows")
    rng = np.random.default_rng(seed)
    mean, std = X.mean(axis=0), X.std(axis=0) + 1e-6
    Xs = (X - mean) / std
    d = X.shape[1]
    params = [rng.standard_normal((d, hidden)).astype(np.float32) * np.float32(np.sqrt(2.0 / d)),
              np.zeros(hidden, np.float32),
              rng.standard_normal((hidden, n_classes)).astype(np.float32) * np.float32(np.sqrt(1.0 / hidden)),
              np.zeros(n_classes, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps, step = 0.9, 0.999, 1e-8, 0
    onehot = np.eye(n_classes, dtype=np.float32)
    for _ in range(epochs):
        order = rng.permutation(len(Xs))
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            xb, tb = Xs[idx], onehot[y[idx]]
            w1, c1, w2, c2 = params
            h_pre = xb @ w1 + c1
            h = np.maximum(h_pre, 0.0)
            z = h @ w2 + c2
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            dz = (p - tb) * sw[idx, None] / len(idx)
            dh = (dz @ w2.T) * (h_pre > 0)
            grads = [xb.T @ dh + weight_decay * w1, dh.sum(axis=0), h.T @ dz + weight_decay * w2, dz.sum(axis=0)]
            step += 1
            for k, g in enumerate(grads):
                m[k] = b1 * m[k] + (1 - b1) * g
                v[k] = b2 * v[k] + (1 - b2) * g * g
                mh, vh = m[k] / (1 - b1**step), v[k] / (1 - b2**step)
                params[k] = params[k] - lr * mh / (np.sqrt(vh) + eps)
    return MLPHead(mean, std, *params)


def accuracy_per_class(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict[str, float]:
    """``{label: accuracy}`` over the labels present in ``y_true``, plus ``"all"`` (over every clip)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    out = {labels[c]: float(np.mean(y_pred[y_true == c] == c)) for c in range(len(labels)) if np.any(y_true == c)}
    out["all"] = float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")
    return out


def teacher_clip_figure(train_audio, train_y: np.ndarray, test_audio, test_y: np.ndarray, labels: list[str], *,
                        teacher=None, seed: int = 0, epochs: int = 60) -> dict[str, float]:
    """The teacher's clip accuracy: a head trained on one split's clips, judged on another's.

    Parameters
    ----------
    train_audio, test_audio : sequence of np.ndarray [shape=(samples,)], float, 16 kHz
        Clips (a pipeline split's ``audio`` array works as is).
    train_y, test_y : np.ndarray [shape=(n,)], int
        Label indices into ``labels``.
    teacher : Teacher or None
        Default: a new :class:`tinykws.ear.teacher.Teacher` (features cached on disk).

    Returns
    -------
    dict: accuracy per label of ``test_y`` and ``"all"``
    """
    from tinykws.ear.teacher import Teacher

    teacher = teacher or Teacher()
    head = train_head(teacher.embed_clips(list(train_audio)), train_y, len(labels), seed=seed, epochs=epochs)
    pred = head.predict(teacher.embed_clips(list(test_audio)))
    return accuracy_per_class(test_y, pred, labels)


#: A run's teacher head, beside its board model (``tinykws evaluate RUN DIR --streaming --teacher``).
HEAD_FILE = "teacher_head.npz"
_FIELDS = ("mean", "std", "w1", "b1", "w2", "b2")


def save_head(head: MLPHead, path) -> None:
    """Write ``head`` as an ``.npz`` (atomically: a run never holds half a head)."""
    import io

    from tinykws.io import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(getattr(head, k), np.float32) for k in _FIELDS})
    atomic_write_bytes(path, buf.getvalue())


def load_head(path) -> MLPHead:
    """The head :func:`save_head` wrote; ``ValueError`` where the file is not one."""
    try:
        with np.load(path) as z:
            return MLPHead(**{k: np.asarray(z[k], np.float32) for k in _FIELDS})
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"{path}: not a teacher head ({e})") from None
