"""What a person reads and looks at: every plot labelled and readable, no "None" or empty phrases,
and a model that hears nothing is called that."""

import json
import shutil
import sys

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner


@pytest.fixture()
def figures(monkeypatch):
    """The matplotlib figures the code saves, by file name (they are still written)."""
    import tinykws.evaluate.report  # noqa: F401  (imports save_png by name: patched below, and restored)
    import tinykws.io

    saved, real = {}, tinykws.io.save_png

    def keep(fig, path, **kw):
        fig.canvas.draw()
        saved[str(path).rsplit("/", 1)[-1]] = fig
        return real(fig, path, **kw)

    monkeypatch.setattr(tinykws.io, "save_png", keep)
    for mod in [m for name, m in sys.modules.items() if name.startswith("tinykws.") and getattr(m, "save_png", None) is real]:
        monkeypatch.setattr(mod, "save_png", keep)  # modules that imported it by name
    monkeypatch.setattr("matplotlib.pyplot.close", lambda *a, **k: None)  # keep them to look at
    return saved


def _cli(*args):
    from tinykws.cli.main import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _log(path, lines):
    path.write_text("".join(f"2026-11-24T10:00:{i // 10:02d}.{i % 10}00+00:00\t{l}\n" for i, l in enumerate(lines)))
    return path


BOOT = ("BOOT proto=1 board=sim fw=0.1.0 model=" + "ab" * 32 + " spec=" + "cd" * 32 + " labels=yes,no,_unknown_,_silence_ "
        "arena_used=1 arena_size=2 mic=wav sr=16000 status=ok")


def test_report_of_a_quiet_log_says_so_in_words_and_plots(tmp_path, figures, monkeypatch):
    monkeypatch.chdir(tmp_path)
    infs = [f"INF t_ms={100 * i} feat_us=5000 inf_us=20000 total_us=25000 top=_silence_ score=0.{i % 9}00" for i in range(1, 200)]
    log = _log(tmp_path / "quiet.log", [BOOT, *infs])
    r = _cli("report", str(log), "--out", str(tmp_path / "plots"))
    assert r.exit_code == 0, r.output
    assert "None" not in r.output and ": \n" not in r.output
    assert "\n0 detections\n" in r.output
    assert "dropped samples and microphone overflows: not known (the log holds no STAT line)" in r.output
    det = figures["detections.png"].axes[0]
    assert det.get_xlim() == (0, pytest.approx(19.9))  # the whole log, not 0-1 s
    assert [t.get_text() for t in det.get_yticklabels()] == ["yes", "no"]
    assert any(t.get_text() == "no detections in this log" for t in det.texts)
    for name in ("detections.png", "scores.png", "latency.png"):
        for ax in figures[name].axes:
            assert ax.get_xlabel() and ax.get_ylabel(), (name, ax.get_title())


def _overlaps(boxes):
    return [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a[1].overlaps(b[1])]


def test_check_plot_names_never_cover_each_other(tmp_path, figures):
    rng = np.random.default_rng(0)
    for k in range(36):  # as many words as Speech Commands
        d = tmp_path / "ds" / f"word{k:02d}"
        d.mkdir(parents=True)
        y = rng.normal(0, 0.1, 16000 if k % 5 else 12000)
        y[:200] = 0.99 if k % 7 == 0 else y[:200]  # some clipping: a warning row
        sf.write(d / "spk_nohash_0.wav", (y * 32767).astype(np.int16), 16000, subtype="PCM_16")
    r = _cli("data", "check", str(tmp_path / "ds"), "--plot", str(tmp_path / "check.png"))
    assert r.exit_code in (0, 1), r.output
    fig = figures["check.png"]
    renderer = fig.canvas.get_renderer()
    boxes = []
    for ax in fig.axes:
        assert ax.get_xlabel(), ax.get_title()
        for axis, (lo, hi) in ((ax.xaxis, sorted(ax.get_xlim())), (ax.yaxis, sorted(ax.get_ylim()))):
            for tick in axis.get_major_ticks():  # those drawn: within the view
                if lo <= tick.get_loc() <= hi and tick.label1.get_text():
                    boxes.append((tick.label1.get_text(), tick.label1.get_window_extent(renderer)))
        boxes.append((f"axes {ax.get_title()}", ax.get_window_extent(renderer)))
    assert not _overlaps(boxes)


def test_training_curves_tick_whole_epochs(tmp_path, figures):
    from tinykws.evaluate.report import plot_history

    plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7]},
                 tmp_path / "training.png")
    for ax in figures["training.png"].axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert ax.get_ylabel()


def test_short_streams_are_not_zero_minutes_and_a_deaf_model_is_called_that(tiny_run, tmp_path, capsys):
    from tinykws.cli.runs import print_summary
    from tinykws.evaluate.tuning import stream_length, summary_lines

    assert (stream_length(0.2 / 60), stream_length(1.5 / 60), stream_length(1.0)) == ("12 s", "1.5 min", "60 min")
    run = shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    rep = json.loads((run / "report.json").read_text())
    quiet = rep["streaming"]["test"]["quiet"]
    quiet.update(hours=0.2 / 60, hit_rate=0.0)
    (run / "report.json").write_text(json.dumps(rep))
    print_summary(run)
    out = capsys.readouterr().out
    words = " ".join(out.replace("│", " ").split())  # the table may wrap a row
    assert "(0 min)" not in words and "(12 s): hears no keyword" in words, out
    (line,) = [l for l in summary_lines({"test": {"quiet": quiet}}) if "test quiet" in l]
    assert line.endswith("(12 s): hears no keyword")


def test_a_model_that_hears_nothing_does_not_meet_its_target():
    from tinykws.evaluate.report import streaming_md
    from tinykws.evaluate.tuning import pick

    p = lambda th, hits, fa: {"threshold": th, "hits": hits, "false_accepts": fa, "fa_per_hour": fa,  # noqa: E731
                              "stride_ms": 100, "average_window_ms": 500, "min_count": 1, "suppression_ms": 1000}
    best, met = pick([p(0.5, 0, 0), p(0.3, 0, 4)], 1.0)
    assert best["false_accepts"] == 0 and not met  # 0 false accepts, but 0 % of the keywords
    op = {"threshold": 0.5, "average_window_ms": 500, "min_count": 1, "suppression_ms": 1000, "stride_ms": 100,
          "target_fa_per_hour": 1.0, "target_met": False, "hears_nothing": True, "chosen_on": "quiet validation stream"}
    text = "\n".join(streaming_md({"streaming": {"operating_point": op, "test": {}}}))
    assert "target met" not in text and "hears no keyword" in text, text


def test_the_live_view_says_when_nothing_was_detected():
    from tinykws.board.monitor import MonitorState, live_view
    from tinykws.board.protocol import parse_line

    state = MonitorState()
    state.add(parse_line(BOOT))
    caption = live_view(state).caption
    assert "detections: none yet" in caption and "None" not in caption, caption
