"""Pretrained board encoders shipped with tinykws: a trunk's weights to start a fit from.

An encoder is the trunk of one architecture (every layer before the ``scores`` classifier) trained
once by ``scripts/train_encoder.py`` to regress the frozen teacher's speech embedding
(:mod:`tinykws.ear`) from tinykws's MFCCs, on far more voices than a user records. It is stored as
``encoders/<arch>.weights.npz`` (the trunk's weights in layer order, ``w000``...) and
``encoders/<arch>.json`` (feature spec sha256, weight shapes, data, R², date) inside the package, so
a run starts from it without the teacher installed. It fits a run only if the run's arch and feature
spec are the ones it was trained for.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinykws.errors import UserError
from tinykws.io import atomic_write_bytes, atomic_write_text
from tinykws.spec import FeatureSpec

ENCODERS_DIR = Path(__file__).resolve().parent / "encoders"
CHOICES = ("pretrained", "none")
#: What ``tinykws train`` starts from when ``--encoder`` is not given, where an encoder fits the arch and spec
#: (docs/ear.md: seed 0, 20 epochs on speech_commands_mini, clip int8 76.2 -> 86.1 %, quiet test stream 36 % at 6 FA/h -> 52 % at 0).
DEFAULT_ENCODER = "pretrained"


@dataclass
class Encoder:
    """A shipped trunk: its weights in layer order and its metadata."""

    arch: str
    weights: list[np.ndarray]
    meta: dict
    path: Path


def encoder_paths(arch: str, root: Path | None = None) -> tuple[Path, Path]:
    """``(<arch>.weights.npz, <arch>.json)`` under ``root`` (default: the package's ``encoders/``)."""
    d = root or ENCODERS_DIR
    return d / f"{arch}.weights.npz", d / f"{arch}.json"


def trunk_layers(model) -> list:
    """The layers with weights before the ``scores`` classifier, in order."""
    return [l for l in model.layers if l.weights and l.name != "scores"]


def trunk_weights(model) -> list[np.ndarray]:
    return [np.asarray(w) for l in trunk_layers(model) for w in l.get_weights()]


def save_encoder(model, arch: str, meta: dict, root: Path | None = None) -> tuple[Path, Path]:
    """Write the trunk of ``model`` and ``meta`` (plus arch and shapes) atomically; returns both paths."""
    npz, js = encoder_paths(arch, root)
    ws = trunk_weights(model)
    buf = io.BytesIO()
    np.savez_compressed(buf, **{f"w{i:03d}": w.astype(np.float32) for i, w in enumerate(ws)})
    atomic_write_bytes(npz, buf.getvalue())
    meta = {"arch": arch, **meta, "shapes": [list(w.shape) for w in ws], "weights_file": npz.name}
    atomic_write_text(js, json.dumps(meta, indent=2) + "\n")
    return npz, js


def available(arch: str, spec: FeatureSpec, root: Path | None = None) -> bool:
    """Whether a shipped encoder fits ``arch`` and ``spec``."""
    npz, js = encoder_paths(arch, root)
    if not (npz.is_file() and js.is_file()):
        return False
    try:
        return json.loads(js.read_text()).get("spec_sha256") == spec.sha256
    except (OSError, ValueError):
        return False


def load_encoder(arch: str, spec: FeatureSpec, root: Path | None = None) -> Encoder:
    """The shipped encoder of ``arch`` for ``spec``.

    Raises
    ------
    UserError
        No encoder for this arch, one trained on another feature spec, or a damaged file.
    """
    npz, js = encoder_paths(arch, root)
    if not (npz.is_file() and js.is_file()):
        have = sorted(p.name[: -len(".json")] for p in (root or ENCODERS_DIR).glob("*.json"))
        raise UserError(f"no pretrained encoder for --arch {arch} (shipped: {', '.join(have) or 'none'}); "
                        "use --encoder none")
    try:
        meta = json.loads(js.read_text())
        with np.load(npz) as z:
            weights = [z[f"w{i:03d}"] for i in range(len(z.files))]
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"{npz}: damaged pretrained encoder ({e}); reinstall tinykws or use --encoder none") from None
    if meta.get("spec_sha256") != spec.sha256:
        raise UserError(f"the pretrained {arch} encoder was trained on feature spec {str(meta.get('spec_sha256'))[:12]}, "
                        f"this run uses {spec.sha256[:12]}; use --encoder none")
    return Encoder(arch, weights, meta, npz)


def resolve_encoder(choice: str | None, arch: str, spec: FeatureSpec) -> str:
    """The encoder a run uses: ``choice`` as given (checked), or for ``None`` the default where it fits."""
    if choice is None:
        return DEFAULT_ENCODER if DEFAULT_ENCODER == "none" or available(arch, spec) else "none"
    if choice not in CHOICES:
        raise UserError(f"unknown encoder {choice!r}; choose one of {', '.join(CHOICES)}")
    if choice == "pretrained":
        load_encoder(arch, spec)  # refuses here, before any work, if there is none
    return choice


def apply_encoder(model, enc: Encoder) -> None:
    """Set the trunk of ``model`` to the encoder's weights (shapes checked)."""
    layers = trunk_layers(model)
    n = sum(len(l.get_weights()) for l in layers)
    if n != len(enc.weights):
        raise UserError(f"{enc.path}: {len(enc.weights)} weights, the {enc.arch} trunk has {n}; use --encoder none")
    i = 0
    for l in layers:
        cur = l.get_weights()
        new = enc.weights[i : i + len(cur)]
        if [w.shape for w in new] != [w.shape for w in cur]:
            raise UserError(f"{enc.path}: weight shapes do not fit layer {l.name}; use --encoder none")
        l.set_weights(new)
        i += len(cur)
