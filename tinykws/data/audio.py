"""Reading and writing audio the way every stage expects it.

:func:`load_audio` reads anything soundfile reads (WAV of any sample format, FLAC,
OGG; MP3 where libsndfile supports it), mixes to mono, resamples to the spec's
rate and returns float32 in [-1, 1). What it had to change is returned as notes,
so callers can say so. A file that cannot be read raises :class:`UserError`
naming the file.

A sample rate outside :data:`SAMPLE_RATE_RANGE` is refused (by ``data check``,
training and ``record`` alike): such a file or board is broken, not merely
unusual, and resampling it would only hide that.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from tinykws.errors import UserError
from tinykws.io import atomic_write_bytes

#: Sample rates (Hz) a recording or a board may have; anything else is broken, not unusual.
SAMPLE_RATE_RANGE = (4000, 192000)


@dataclass
class Audio:
    """Mono float32 audio.

    Attributes
    ----------
    y : np.ndarray [shape=(samples,), float32] in [-1, 1)
    sr : int
        Sample rate in Hz.
    notes : list of str
        What was converted on the way in ("resampled 44100 -> 16000 Hz", "stereo mixed to mono", ...).
    """

    y: np.ndarray
    sr: int
    notes: list[str] = field(default_factory=list)


def load_audio(path: str | Path, sr: int = 16000) -> Audio:
    """Read an audio file as mono float32 at ``sr`` Hz.

    Raises
    ------
    UserError
        If the file is missing, empty or not audio soundfile can decode.
    """
    path = Path(path)
    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as e:
        raise UserError(f"{path}: not readable audio ({_short(e)})") from None
    bad_rate = sample_rate_problem(file_sr)
    if bad_rate:
        raise UserError(f"{path}: {bad_rate} (a damaged or mislabelled file?)")
    notes = []
    try:
        info = sf.info(str(path))
        subtype = info.subtype
    except Exception:  # info is cosmetic; the data already decoded
        subtype = "?"
    if subtype not in ("PCM_16", "?"):
        notes.append(f"sample format {subtype} converted")
    if data.shape[0] == 0:
        raise UserError(f"{path}: contains no audio samples")
    if data.shape[1] > 1:
        notes.append(f"{data.shape[1]} channels mixed to mono")
        y = data.mean(axis=1)
    else:
        y = data[:, 0]
    if not np.all(np.isfinite(y)):
        raise UserError(f"{path}: contains NaN or infinite samples")
    if file_sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=file_sr, target_sr=sr, res_type="soxr_hq")
        notes.append(f"resampled {file_sr} -> {sr} Hz")
    y = np.clip(y, -1.0, 32767 / 32768).astype(np.float32)
    return Audio(y=y, sr=sr, notes=notes)


def sample_rate_problem(sr: int) -> str | None:
    """Why ``sr`` (Hz) cannot be a real recording's rate, or ``None`` when it can."""
    lo, hi = SAMPLE_RATE_RANGE
    if not lo <= sr <= hi:
        return f"sample rate {sr} Hz is outside {lo}-{hi} Hz"
    return None


def fit_length(y: np.ndarray, n: int) -> tuple[np.ndarray, str | None]:
    """Crop (centred on the loudest part) or zero-pad (centred) ``y`` to ``n`` samples.

    Returns the new array and a note when the length changed.
    """
    if len(y) == n:
        return y, None
    if len(y) < n:
        before = (n - len(y)) // 2
        return np.pad(y, (before, n - len(y) - before)), f"padded {len(y)} -> {n} samples"
    start = loudest_window_start(y, n)
    return y[start : start + n], f"cropped {len(y)} -> {n} samples"


def loudest_window_start(y: np.ndarray, n: int) -> int:
    """Start of the ``n``-sample window of ``y`` holding the most energy."""
    if len(y) <= n:
        return 0
    e = np.concatenate([[0.0], np.cumsum(y.astype(np.float64) ** 2)])
    sums = e[n:] - e[:-n]
    return int(np.argmax(sums))


def to_int16(y: np.ndarray) -> np.ndarray:
    """float in [-1, 1) to int16 PCM (round to nearest, saturating)."""
    return np.clip(np.round(np.asarray(y, np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def wav_bytes(y: np.ndarray, sr: int) -> bytes:
    """16-bit PCM WAV file contents for float or int16 audio."""
    pcm = y if y.dtype == np.int16 else to_int16(y)
    buf = io.BytesIO()
    sf.write(buf, pcm, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def write_wav(path: str | Path, y: np.ndarray, sr: int, *, overwrite: bool = False) -> Path:
    """Write a 16-bit PCM WAV atomically; by default never replaces an existing file."""
    try:
        return atomic_write_bytes(path, wav_bytes(y, sr), overwrite=overwrite)
    except FileExistsError:
        raise UserError(f"{path}: already exists, not overwritten") from None


def _short(e: Exception) -> str:
    s = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return s[:200]
