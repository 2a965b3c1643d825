"""The portable core on an emulated Cortex-M4F (hard float): every MFCC frame equals the host's."""

import numpy as np
import pytest

from tinykws.boardcode.cross import mfcc_on_qemu, toolchain_missing
from tinykws.features import compute_mfcc
from tinykws.spec import FeatureSpec

pytestmark = pytest.mark.skipif(toolchain_missing() is not None, reason=str(toolchain_missing()))


def speech_pcm(shared_dir, seconds=2):
    """Real speech when available (converted here, never committed), else the project's own synthetic speech."""
    from tinykws.data.audio import fit_length, load_audio, to_int16

    if shared_dir is not None:
        files = sorted(shared_dir.glob("yes/*.wav"))[:seconds]
        return np.concatenate([to_int16(fit_length(load_audio(f).y, 16000)[0]) for f in files])
    from tinykws.data.synth import centre_spoken, synthesize_clip

    words = ["yes", "stop"][:seconds]
    return np.concatenate([to_int16(centre_spoken(synthesize_clip(w, voice="en-us"), 16000, 16000) * 0.3) for w in words])


def test_mfcc_frames_on_cortex_m4f_equal_host():
    from tests.conftest import shared_speech_dir

    pcm = speech_pcm(shared_speech_dir())
    arm = mfcc_on_qemu(pcm)
    host = compute_mfcc(pcm, FeatureSpec())
    assert arm.shape == host.shape and arm.shape[0] >= 49
    err = np.abs(arm - host)
    print(f"QEMU Cortex-M4F: {arm.shape[0]} frames, max abs error {err.max():.2e}")
    assert err.max() <= 2e-3 and np.mean(err > 1e-3) <= 1e-3
