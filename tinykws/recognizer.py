"""How the board turns a stream of model scores into detections: the recognizer's settings.

One :class:`RecognizerConfig` travels with a run (``report.json``), into the
generated firmware header (``KWS_RECOGNIZER_*``), into the host build of the C
recognizer (:mod:`tinykws.boardcode.native`) and into streaming evaluation. Its
defaults are stated here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from tinykws.errors import UserError

#: ``KWS_RECOGNIZER_MAX_HISTORY`` of the firmware's recognizer: inferences one average can hold.
RECOGNIZER_MAX_HISTORY = 64


@dataclass(frozen=True)
class RecognizerConfig:
    """How the board turns a stream of scores into detections.

    Attributes
    ----------
    stride_ms : int
        Audio between two inferences (a multiple of the spec's hop).
    average_window_ms : int
        Scores of the inferences in this window are averaged.
    threshold : float
        Smoothed score a keyword must reach.
    suppression_ms : int
        After a detection, no other detection for this long.
    min_count : int
        Inferences needed in the window before any detection.
    """

    stride_ms: int = 100
    average_window_ms: int = 500
    threshold: float = 0.7
    suppression_ms: int = 1000
    min_count: int = 3

    def validate(self, hop_ms: int) -> None:
        """:class:`UserError` unless the settings are usable with a feature hop of ``hop_ms``."""
        if self.stride_ms <= 0 or self.stride_ms % hop_ms:
            raise UserError(f"recognizer stride_ms={self.stride_ms} must be a positive multiple of hop_ms={hop_ms}")
        if not 0 < self.threshold <= 1:
            raise UserError("recognizer threshold must be in (0, 1]")
        if self.average_window_ms < self.stride_ms or self.suppression_ms < 0 or self.min_count < 1:
            raise UserError("recognizer settings out of range")
        if -(-self.average_window_ms // self.stride_ms) > RECOGNIZER_MAX_HISTORY:
            raise UserError(f"recognizer average_window_ms={self.average_window_ms} holds more than "
                            f"{RECOGNIZER_MAX_HISTORY} inferences at stride_ms={self.stride_ms} (the board keeps no more)")

    @classmethod
    def from_dict(cls, d: dict) -> "RecognizerConfig":
        """Settings from a run's ``report.json`` (keys this version does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in known})
