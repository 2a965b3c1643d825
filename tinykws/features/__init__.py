"""Features: the MFCC front end (:mod:`.mfcc`) and its on-disk cache (:mod:`.cache`).

Takes float32 clips ``[n, clip_samples]`` and a :class:`tinykws.spec.FeatureSpec`,
gives MFCC matrices ``[n, n_frames, n_mfcc]`` equal to what the firmware's streaming
C front end computes frame by frame.
"""

from tinykws.features.cache import FeatureCache
from tinykws.features.mfcc import compute_mfcc, feature_tables, fit_clip, librosa_mfcc, pcm_to_float, silence_mfcc

__all__ = ["FeatureCache", "compute_mfcc", "feature_tables", "fit_clip", "librosa_mfcc", "pcm_to_float", "silence_mfcc"]
