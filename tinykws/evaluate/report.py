"""PNG plots for run reports (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    from tinykws.io import atomic_write_bytes
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def plot_confusion(cm: np.ndarray, labels: list[str], title: str, path: Path) -> None:
    plt = _plt()
    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(labels), 0.8 + 0.5 * len(labels)))
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7, color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title)
    _save(fig, path)
    plt.close(fig)


def plot_history(history: dict, path: Path) -> None:
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ep = np.arange(1, len(history.get("loss", [])) + 1)
    for k in ("loss", "val_loss"):
        if k in history:
            a1.plot(ep, history[k], label=k)
    for k in ("accuracy", "val_accuracy"):
        if k in history:
            a2.plot(ep, history[k], label=k)
    a1.set_xlabel("epoch")
    a2.set_xlabel("epoch")
    a1.legend()
    a2.legend()
    a1.set_title("loss")
    a2.set_title("accuracy")
    _save(fig, path)
    plt.close(fig)
