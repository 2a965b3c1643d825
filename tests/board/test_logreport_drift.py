"""Drift check of ``tinykws report``: the board's INF top scores against the run's validation-stream scores."""

from dataclasses import replace

import numpy as np
import pytest

from tinykws.board.logreport import drift_check, summarize


def _board_records(run, stream):
    """What a board running ``run`` prints over ``stream``: the core's own INF lines, parsed."""
    from tinykws.board.protocol import parse_line
    from tinykws.data.audio import to_int16
    from tinykws.evaluate.streaming import model_engine
    from tinykws.boardcode.native import App

    lines = []
    predict, _ = model_engine(run)
    app = App(run, predict, lines.append, stats_period_ms=3_600_000)
    app.feed(to_int16(stream.y))
    app.step()
    return [(float(i), r) for i, r in enumerate(parse_line(l) for l in lines) if r is not None]


@pytest.fixture(scope="module")
def drift_setup(tiny_run, tone_dataset):
    from tinykws.evaluate.streaming import build_stream, stream_scores, stream_sources
    from tinykws.evaluate.tuning import score_histogram
    from tinykws.run import load_run

    run = load_run(tiny_run)
    src = stream_sources(run, tone_dataset, "validation")
    ref = score_histogram(stream_scores(run, build_stream(src, minutes=2.0, condition="quiet"), run.recognizer.stride_ms))
    run = replace(run, report={**run.report, "streaming": {**(run.report.get("streaming") or {}), "drift": ref}})
    return run, src


def test_quiet_on_a_stream_from_the_same_distribution(drift_setup):
    from tinykws.evaluate.streaming import build_stream

    run, src = drift_setup
    recs = _board_records(run, build_stream(src, minutes=2.0, seed=7, condition="quiet"))  # other words, gaps, noise
    d = summarize(recs, run)["drift"]
    assert d["reference"].startswith("quiet validation stream")
    assert d["board_scores"] > 500 and not d["drift"], d


def test_fires_on_a_shifted_stream(drift_setup):
    from tinykws.evaluate.streaming import build_stream

    run, src = drift_setup
    # The same words through a microphone 30 dB less sensitive, next to a loud fan (white noise at
    # -20 dBFS): the words sink into the noise, and the scores change. (A fan at -30 dBFS gave KS 0.16
    # with whole-word spans, -20 dBFS 0.51: the recipe's level and noise augmentation hides milder shifts.)
    st = build_stream(src, minutes=2.0, seed=7, condition="quiet")
    fan = np.random.default_rng(3).normal(0, 10 ** (-20 / 20), len(st.y)).astype(np.float32)
    st.y = st.y * np.float32(10 ** (-30 / 20)) + fan
    d = summarize(_board_records(run, st), run)["drift"]
    assert d["drift"] and d["ks_statistic"] > 0.2, d


def test_ks_statistic_is_the_largest_cdf_gap():
    # Board: all 0.5; reference: half 0.2, half 0.9 -> CDFs differ by 0.5 on [0.5, 0.9).
    d = drift_check([0.5] * 400, [0.2, 0.9], [300, 300])
    assert d["ks_statistic"] == 0.5 and d["drift"]
    same = drift_check(list(np.repeat([0.2, 0.9], [150, 150])), [0.2, 0.9], [300, 300])
    assert same["ks_statistic"] == 0.0 and not same["drift"]
