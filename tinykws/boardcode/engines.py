"""The int8 model as the board runs it, on this computer: the firmware's default engine first.

:func:`model_engine` gives a callable (int8 window ``[n_frames, n_mfcc]`` -> int8 scores) for a run:
``"native"`` is the firmware's own int8 engine (``firmware/lib/kws_nn`` and the generated
``kws_net_model.h``) built with this computer's C compiler, bit-exact with TFLM's kernels; where it
cannot be built or does not support the model, TFLM's kernels (:class:`tinykws.boardcode.tflm.TflmModel`)
run instead and give the same scores. The virtual board and the streaming evaluation use it.
"""

from __future__ import annotations

import sys
from typing import Callable

import numpy as np

from tinykws.errors import UserError

ENGINE_NAMES = ("native", "tflm")
_FALLBACKS_SAID: set[tuple[str, str]] = set()


class NativeScores:
    """The native engine as ``callable(int8 window) -> int8 scores``; ``weights_crc32`` is the CRC-32
    of its weights as a board's native build recomputes it at boot (its BOOT line's ``weights_crc``)."""

    def __init__(self, net):
        self.net = net
        self.weights_crc32 = int(net.weights_crc32())

    def __call__(self, x: np.ndarray) -> np.ndarray:
        # As the firmware: a model with a streaming mode computes only the rows new since the last window.
        if self.net.streamable:
            return self.net.stream(x)[0]
        return self.net.run(x)[0]


def model_engine(run, engine: str = "native") -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """``(callable(int8 window) -> int8 scores, engine name)``; the name is ``"native"`` or ``"tflm"``."""
    if engine not in ENGINE_NAMES:
        raise UserError(f"unknown engine {engine!r} (native or tflm)")
    if engine == "native":
        try:
            from tinykws.boardcode.native_engine import NativeNet

            return NativeScores(NativeNet(run.tflite_bytes)), "native"
        except (UserError, OSError, RuntimeError) as e:
            # No C compiler, or an op the native engine does not run: TFLM computes the same scores,
            # but a board's native build would refuse this model, so say it (once per model).
            reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            key = (run.model_sha256, reason)
            if key not in _FALLBACKS_SAID:
                _FALLBACKS_SAID.add(key)
                sys.stderr.write(f"note: the native engine cannot run this model here ({reason}); "
                                 "TFLM's kernels compute its scores instead\n")
                sys.stderr.flush()
    from tinykws.boardcode.tflm import TflmModel

    return TflmModel(run.tflite_bytes, run.arena_bytes).predict_one, "tflm"
