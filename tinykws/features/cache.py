"""On-disk cache of clean clips' features.

Features of a recorded clip depend only on its bytes and the feature spec, so
they are computed once and kept under :func:`tinykws.paths.cache_dir`
``("features")``, keyed by (file sha1, spec hash). Training, evaluation and the
streaming tools share it; deleting it only costs time.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import numpy as np

from tinykws.features.mfcc import compute_mfcc
from tinykws.io import atomic_write_bytes
from tinykws.paths import cache_dir
from tinykws.spec import FeatureSpec


class PackCache:
    """Arrays on disk under ``root``, keyed by strings, in immutable packs.

    Each :meth:`put_many` writes one pack (``<random>.npz`` holding keys and rows) atomically, so
    concurrent runs can share a cache and a damaged pack only costs a recomputation. ``row_shape``
    is the shape every stored row must have; a pack of another shape is ignored.
    """

    def __init__(self, root: Path, row_shape: tuple[int, ...]):
        self.root = root
        self.row_shape = tuple(row_shape)
        self._index: dict[str, np.ndarray] | None = None

    def _load_index(self) -> dict[str, np.ndarray]:
        if self._index is None:
            self._index = {}
            for p in sorted(self.root.glob("*.npz")) if self.root.is_dir() else []:
                try:
                    with np.load(p) as z:
                        keys, feats = z["keys"], z["feats"]
                except (OSError, ValueError, KeyError):
                    continue
                if feats.shape[1:] != self.row_shape or len(keys) != len(feats):
                    continue
                for k, f in zip(keys.tolist(), feats):
                    self._index[k] = f
        return self._index

    def get(self, key: str) -> np.ndarray | None:
        return self._load_index().get(key)

    def put_many(self, keys: list[str], feats: np.ndarray) -> None:
        if not keys:
            return
        feats = np.asarray(feats, np.float32)
        buf = io.BytesIO()
        np.savez(buf, keys=np.array(keys), feats=feats)
        try:
            atomic_write_bytes(self.root / f"{uuid.uuid4().hex}.npz", buf.getvalue(), fsync=False)
        except OSError:
            pass  # a read-only or full cache only costs speed
        index = self._load_index()
        for k, f in zip(keys, feats):
            index[k] = f


class FeatureCache(PackCache):
    """Clean clips' features on disk, keyed by (file sha1, spec hash).

    Only un-augmented clips are cached: augmented examples are new waveforms
    every epoch and always get fresh features. Each call that computes new
    features writes one immutable pack (``<spec hash>/<random>.npz`` holding
    keys and features) atomically, so concurrent runs can share a cache and a
    damaged pack only costs a recomputation.
    """

    def __init__(self, spec: FeatureSpec, root: "Path | None" = None):
        self.spec = spec
        super().__init__((root or cache_dir("features")) / spec.sha256[:16], spec.input_shape)

    def features(self, y: np.ndarray, keys: list[str]) -> tuple[np.ndarray, int]:
        """Features of clips ``y`` (one row per key); rows with an empty key are never cached.

        Returns the features and the number of cache hits.
        """
        out = np.zeros((len(keys), *self.spec.input_shape), np.float32)
        index = self._load_index()
        todo = []
        for i, k in enumerate(keys):
            a = index.get(k) if k else None
            if a is None:
                todo.append(i)
            else:
                out[i] = a
        if todo:
            f = compute_mfcc(y[todo], self.spec)
            out[todo] = f
            new = {keys[i]: j for j, i in enumerate(todo) if keys[i]}
            self.put_many(list(new), f[list(new.values())])
        return out, len(keys) - len(todo)
