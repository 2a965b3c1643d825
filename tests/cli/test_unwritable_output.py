"""Output that cannot be written (a file in the way, a read-only place, a full disk): one `error:` line
naming the path, before the long work where it can be known first, and never a traceback.

Tests run as root, where permission bits stop nothing, so "cannot create" is a path under a regular
file or under /proc; "disk full" is /dev/full, or a file-size limit (RLIMIT_FSIZE) on the process.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys

from tests.board.fakeboard import FakeBoard, boot_line


def _tinykws(*args: str, fsize: int | None = None) -> subprocess.CompletedProcess:
    def limit():  # writes past `fsize` bytes fail with EFBIG, as a full disk fails them with ENOSPC
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run([sys.executable, "-m", "tinykws", *args], capture_output=True, text=True, timeout=300,
                          preexec_fn=limit if fsize else None)


def _one_line(r: subprocess.CompletedProcess, *needles: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert all(n in lines[0] for n in needles), lines[0]
    return lines[0]


def test_train_refuses_a_runs_folder_it_cannot_create_before_training(tone_dataset, tmp_path):
    blocker = tmp_path / "runs.txt"
    blocker.write_text("a file, not a folder\n")
    r = _tinykws("train", str(tone_dataset), "--words", "up,down", "--epochs", "1", "--out", str(blocker / "runs"))
    _one_line(r, "runs folder", str(blocker / "runs"), "cannot write there")
    assert "run folder:" not in r.stdout  # refused before the dataset was even read
    assert blocker.read_text() == "a file, not a folder\n"


def test_monitor_log_in_a_folder_that_cannot_be_made_or_on_a_full_disk(tmp_path):
    blocker = tmp_path / "logs"
    blocker.write_text("")
    with FakeBoard() as board:
        _one_line(_tinykws("monitor", "--port", board.port, "--log", str(blocker / "sub" / "board.log"),
                           "--duration", "2", "--json"), "--log", str(blocker / "sub" / "board.log"))
        _one_line(_tinykws("monitor", "--port", board.port, "--log", "/dev/full", "--duration", "2", "--json"),
                  "--log /dev/full: cannot write there")


def test_report_and_check_plots_into_places_that_cannot_be_written(tone_dataset, tmp_path):
    log = tmp_path / "board.log"
    log.write_text(f"2026-01-01T00:00:00.000+00:00\t{boot_line('INFO').decode().strip()}\n"
                   "2026-01-01T00:00:01.000+00:00\tINF t_ms=1000 feat_us=10 inf_us=20 total_us=30 top=yes score=0.9\n")
    _one_line(_tinykws("report", str(log), "--out", "/proc/tinykws-plots"), "--out /proc/tinykws-plots: cannot write")
    plot = tmp_path / "overview.png"
    _one_line(_tinykws("data", "check", str(tone_dataset), "--plot", str(log / "overview.png")),
              "--plot", str(log / "overview.png"))
    # Room for the probe but not for the PNG: the write itself fails (a disk that fills up), one line.
    r = _tinykws("data", "check", str(tone_dataset), "--plot", str(plot), fsize=4096)
    _one_line(r, str(plot), "cannot write there (File too large)")
    assert not plot.exists() and not list(tmp_path.glob(".overview.png.*"))
