"""The feature specification shared by the laptop and the firmware.

One frozen dataclass holds every parameter of the MFCC front end. It is stored
as ``spec.json`` with every model, its hash identifies it on the board, and the
firmware's C header ``kws_feature_spec.h`` is generated from it. No parameter is
left to a library default, so the host extractor (:mod:`tinykws.features`) and
the streaming C implementation compute the same numbers.

Framing is device-friendly: no centre padding, frame ``i`` covers samples
``[i * hop_length, i * hop_length + n_fft)`` of the clip; the analysis window of
``win_length`` samples sits centred inside the ``n_fft`` frame (zeros either
side), exactly as librosa pads a short window.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinykws.errors import UserError


@dataclass(frozen=True)
class FeatureSpec:
    """MFCC front end parameters.

    Attributes
    ----------
    sample_rate : int
        Audio sample rate in Hz.
    clip_ms : int
        Length of one training / inference window in milliseconds.
    window_ms : int
        Analysis window length in milliseconds (``win_length`` samples).
    hop_ms : int
        Hop between frames in milliseconds (``hop_length`` samples).
    n_fft : int
        FFT size in samples; the window is zero-padded (centred) to it.
    window : str
        Window type; ``"hann"`` is the periodic Hann window (librosa's default).
    n_mels : int
        Number of mel bands.
    fmin, fmax : float
        Lowest and highest mel filter edge in Hz.
    mel_htk : bool
        ``True`` for the HTK mel formula, ``False`` for Slaney's.
    mel_norm : str
        ``"slaney"`` (area normalisation) or ``"none"``.
    power : float
        Exponent of the magnitude spectrum (2.0 = power).
    log_floor : float
        Smallest power before the log: ``10 * log10(max(S, log_floor))``.
    dct_type : int
        DCT type applied to the log-mel bands.
    dct_norm : str
        ``"ortho"`` or ``"none"``.
    n_mfcc : int
        Number of cepstral coefficients kept.
    """

    sample_rate: int = 16000
    clip_ms: int = 1000
    window_ms: int = 30
    hop_ms: int = 20
    n_fft: int = 512
    window: str = "hann"
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float = 4000.0
    mel_htk: bool = False
    mel_norm: str = "slaney"
    power: float = 2.0
    log_floor: float = 1e-10
    dct_type: int = 2
    dct_norm: str = "ortho"
    n_mfcc: int = 10

    def __post_init__(self) -> None:
        # Equal specs must hash equally: `fmin=20` and `fmin=20.0` are one spec, so every field is
        # stored as its declared type before anything else looks at it.
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _coerce(f.name, f.type, getattr(self, f.name)))
        problems = []
        if self.sample_rate <= 0:
            problems.append("sample_rate must be positive")
        if self.window_ms <= 0 or self.hop_ms <= 0 or self.clip_ms <= 0:
            problems.append("clip_ms, window_ms and hop_ms must be positive")
        if self.sample_rate * self.window_ms % 1000 or self.sample_rate * self.hop_ms % 1000:
            problems.append("window_ms and hop_ms must be whole numbers of samples")
        if self.n_fft & (self.n_fft - 1) or self.n_fft < 16:
            problems.append("n_fft must be a power of two >= 16")
        if self.sample_rate * self.window_ms // 1000 > self.n_fft:
            problems.append("window_ms is longer than n_fft")
        if self.window not in ("hann", "hamming"):
            problems.append(f"window must be 'hann' or 'hamming', not {self.window!r}")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            problems.append("need 0 <= fmin < fmax <= sample_rate / 2")
        if self.mel_norm not in ("slaney", "none"):
            problems.append("mel_norm must be 'slaney' or 'none'")
        if self.dct_type != 2:
            problems.append("only dct_type 2 is supported")
        if self.dct_norm not in ("ortho", "none"):
            problems.append("dct_norm must be 'ortho' or 'none'")
        if not 0 < self.n_mfcc <= self.n_mels:
            problems.append("need 0 < n_mfcc <= n_mels")
        if self.power not in (1.0, 2.0):
            problems.append("power must be 1.0 or 2.0")
        if not self.log_floor > 0:
            problems.append("log_floor must be positive")
        if self.clip_samples < self.n_fft:
            problems.append("clip_ms is shorter than one frame")
        if problems:
            raise UserError("invalid feature spec: " + "; ".join(problems))

    # Derived sizes -----------------------------------------------------------------
    @property
    def win_length(self) -> int:
        """Analysis window length in samples."""
        return self.sample_rate * self.window_ms // 1000

    @property
    def hop_length(self) -> int:
        """Hop between frames in samples."""
        return self.sample_rate * self.hop_ms // 1000

    @property
    def clip_samples(self) -> int:
        """Samples in one clip."""
        return self.sample_rate * self.clip_ms // 1000

    @property
    def n_frames(self) -> int:
        """Frames in one clip (no centre padding)."""
        return 1 + (self.clip_samples - self.n_fft) // self.hop_length

    @property
    def n_bins(self) -> int:
        """FFT bins kept (``n_fft // 2 + 1``)."""
        return self.n_fft // 2 + 1

    @property
    def input_shape(self) -> tuple[int, int]:
        """Shape of one clip's features, ``(n_frames, n_mfcc)``."""
        return (self.n_frames, self.n_mfcc)

    # Serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace variations."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        """sha256 (hex) of the canonical JSON; identifies the spec on the board."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FeatureSpec":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise UserError(f"unknown feature spec field(s): {', '.join(unknown)}")
        return cls(**d)

    def save(self, path: str | Path) -> None:
        from tinykws.io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), sort_keys=True, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "FeatureSpec":
        p = Path(path)
        try:
            d = json.loads(p.read_text())
        except FileNotFoundError:
            raise UserError(f"feature spec not found: {p}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"feature spec {p} is not valid JSON: {e}") from None
        if not isinstance(d, dict):
            raise UserError(f"feature spec {p} must hold a JSON object")
        try:
            return cls.from_dict(d)
        except UserError as e:
            raise UserError(f"{p}: {e}") from None


def _coerce(name: str, declared, value):
    """``value`` as the field's declared type (``int``, ``float``, ``bool`` or ``str``), or a :class:`UserError`.

    Only exact conversions are made: ``20`` -> ``20.0`` for a float field, ``16000.0`` -> ``16000``
    for an int field; ``16000.5``, ``"16000"`` or ``True`` for an int field are refused.
    """
    import numbers

    kind = declared if isinstance(declared, str) else getattr(declared, "__name__", str(declared))
    bad = UserError(f"invalid feature spec: {name} must be {'a' if kind != 'int' else 'an'} {kind}, not {value!r}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, numbers.Integral) and value in (0, 1):
            return bool(value)
        raise bad
    if kind == "str":
        if isinstance(value, str):
            return value
        raise bad
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad
    if kind == "int":
        if isinstance(value, numbers.Integral):
            return int(value)
        if float(value).is_integer():
            return int(value)
        raise bad
    if kind == "float":
        v = float(value)
        if v != v or v in (float("inf"), float("-inf")):
            raise bad
        return v
    return value


DEFAULT_SPEC = FeatureSpec()
