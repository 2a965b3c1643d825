"""Shared fixtures: the real speech folder (optional) and one small trained run for the session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_speech_dir() -> Path | None:
    base = os.environ.get("TINYKWS_SHARED")
    cands = [Path(base) / "datasets" / "speech_commands_mini"] if base else []
    cands.append(REPO.parent / "shared" / "datasets" / "speech_commands_mini")
    for c in cands:
        if (c / "yes").is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared_speech() -> Path:
    d = shared_speech_dir()
    if d is None:
        pytest.skip("real speech (shared/datasets/speech_commands_mini beside the repository) is not available")
    return d


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    # Never touch the user's ~/.cache from tests; share one cache across the session.
    os.environ["TINYKWS_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    yield


@pytest.fixture(scope="session")
def tone_dataset(tmp_path_factory) -> Path:
    from tests.helpers import make_tone_dataset

    return make_tone_dataset(tmp_path_factory.mktemp("tones"))


@pytest.fixture(scope="session")
def tiny_run(tone_dataset, tmp_path_factory) -> Path:
    """One small seeded model (up, down, _unknown_, _silence_) shared by every test that needs a run."""
    from tinykws.pipeline import TrainConfig, train

    cfg = TrainConfig(dataset=str(tone_dataset), words=["up", "down"], arch="ds-cnn-xs", epochs=15, seed=0, stream_minutes=0.5,
                      batch_size=16, patience=15, name="tiny")
    return train(cfg, tmp_path_factory.mktemp("runs"), progress=False)
