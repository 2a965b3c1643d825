#!/usr/bin/env python
"""How the stream figures grow with real training speakers: the default recipe on a share of them.

For each fraction and seed, `tinykws train` runs with its defaults on a copy of DATASET
that keeps that share of the training split's speakers (symbolic links; chosen by a hash
of the speaker id, so a smaller share is part of every larger one). Validation and test
speakers, other words' held-out speakers and the background noise are all kept, so every
run is judged on the same streams and clips. Prints each run and the mean per fraction:
clip accuracy (int8, TFLM), the quiet validation and test streams at the run's own
operating point, and the best test hit rate at <= 5 false accepts per hour read off the
test DET curve (a diagnostic: it chooses nothing).

Usage: python scripts/learning_curve.py DATASET [--words yes,no,...] [--fractions 0.25 0.5 1]
       [--seeds 0 1 2] [--stream-minutes 60] [--out runs/learning-curve] [--jobs 1] [-- TRAIN OPTIONS]
Options after `--` go to every `tinykws train` (e.g. `-- --negative-weight 3`). Runs already
in OUT are reused, so a second call only prints (or fills the gaps); Ctrl-C stops the trainings
under way, keeps the finished runs, and the same command goes on from them.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_WORDS = "yes,no,up,down,left,right,on,off,stop,go"
#: The DET curve is read at this many false accepts per hour (the issue's target).
DET_FA_PER_HOUR = 5.0


def speaker_share(speaker: str) -> float:
    """Where a speaker falls in [0, 1): a share keeps every speaker below it (a hash salted apart from the split's)."""
    return int(hashlib.sha1(("lc" + speaker).encode("utf-8")).hexdigest()[:8], 16) / 2**32


def speaker_subset(root: Path, dest: Path, fraction: float) -> dict[str, int]:
    """Link ``root`` into ``dest``, keeping ``fraction`` of the training split's speakers.

    Returns ``{"kept": n, "dropped": n}`` (files). Files whose split is validation or test,
    and the background-noise folder, are always kept.
    """
    from tinykws.data.dataset import BACKGROUND, split_of_speaker, speaker_of

    kept = dropped = 0
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        out = dest / folder.name
        out.mkdir(parents=True, exist_ok=True)
        for f in sorted(p for p in folder.iterdir() if p.is_file()):
            spk = speaker_of(f)
            if folder.name != BACKGROUND and split_of_speaker(spk) == "train" and speaker_share(spk) >= fraction:
                dropped += 1
                continue
            link = out / f.name
            if not link.exists():
                try:
                    link.symlink_to(f.resolve())
                except OSError:  # no symbolic links here: copy
                    shutil.copy2(f, link)
            kept += 1
    return {"kept": kept, "dropped": dropped}


def run_name(fraction: float, seed: int) -> str:
    return f"lc{round(100 * fraction):03d}-s{seed}"


def find_run(runs: Path, name: str) -> Path | None:
    done = sorted(p.parent for p in runs.glob(f"*-{name}/report.json"))
    return done[-1] if done else None


def summarize(run: Path) -> dict:
    r = json.loads((run / "report.json").read_text())
    s = r["streaming"]
    with open(run / "manifest.csv", newline="") as fh:
        rows = [x for x in csv.DictReader(fh) if x["split"] == "train" and not x["label"].startswith("_")]
    det = s["det"]["test/quiet"]
    return {
        "run": run.name,
        "train_speakers": len({x["speaker"] for x in rows}),
        "train_keyword_clips": len(rows),
        "int8": r["accuracy"]["int8"],
        "val_hit": s["validation"]["quiet"]["hit_rate"], "val_fa": s["validation"]["quiet"]["fa_per_hour"],
        "test_hit": s["test"]["quiet"]["hit_rate"], "test_fa": s["test"]["quiet"]["fa_per_hour"],
        "det_hit": max([p["hit_rate"] for p in det if p["fa_per_hour"] <= DET_FA_PER_HOUR] or [0.0]),
    }


def train_all(todo: list[list[str]], runs: Path, jobs: int) -> int:
    """Run the training commands, ``jobs`` at once, each logging to ``runs/<name>.log``; returns how many failed.

    On Ctrl-C the trainings still going are interrupted too; each removes its unfinished run folder.
    """
    procs: list[tuple[subprocess.Popen, object]] = []
    failed = 0
    try:
        while todo or procs:
            while todo and len(procs) < jobs:
                cmd = todo.pop(0)
                log = open(runs / f"{cmd[cmd.index('--name') + 1]}.log", "w")
                print("training:", " ".join(cmd[2:]), flush=True)
                procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
            time.sleep(2)
            for p, log in list(procs):
                if p.poll() is not None:
                    log.close()
                    procs.remove((p, log))
                    failed += p.returncode != 0
                    if p.returncode:
                        print(f"error: training failed (exit {p.returncode}); see {log.name}", file=sys.stderr)
    finally:
        for p, log in procs:
            p.send_signal(signal.SIGINT)  # as Ctrl-C in a terminal: the training cleans up after itself
        for p, log in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            log.close()
    return failed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--words", default=DEFAULT_WORDS)
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--stream-minutes", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=Path("runs") / "learning-curve")
    ap.add_argument("--jobs", type=int, default=1, help="trainings at once")
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    a = ap.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if not a.dataset.is_dir():
        print(f"error: dataset folder not found: {a.dataset}", file=sys.stderr)
        return 2
    bad = [f for f in a.fractions if not 0 < f <= 1]
    if bad or a.jobs < 1:
        print(f"error: fractions must be in (0, 1] and --jobs at least 1 (got {bad or a.jobs})", file=sys.stderr)
        return 2
    runs = a.out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    todo = []
    for f in a.fractions:
        data = a.dataset
        if f < 1:
            data = a.out / "data" / f"share{round(100 * f):03d}"
            n = speaker_subset(a.dataset, data, f)
            print(f"{data}: {n['kept']} files kept, {n['dropped']} training-split files left out", flush=True)
        for s in a.seeds:
            if find_run(runs, run_name(f, s)) is None:
                todo.append([sys.executable, "-m", "tinykws", "train", str(data), "--words", a.words, "--seed", str(s),
                             "--stream-minutes", f"{a.stream_minutes:g}", "--name", run_name(f, s), "--out", str(runs), *extra])
    try:
        failed = train_all(todo, runs, a.jobs)
    except KeyboardInterrupt:
        print(f"interrupted: finished runs stay in {runs}; the same command goes on from them", file=sys.stderr)
        return 130
    print(f"\n{'run':<28} {'speakers':>8} {'kw clips':>8} {'int8':>6} {'val quiet':>15} {'test quiet':>15} "
          f"{'DET<=5':>7}")
    means = []
    for f in a.fractions:
        rows = [summarize(r) for s in a.seeds if (r := find_run(runs, run_name(f, s)))]
        for x in rows:
            print(f"{x['run']:<28} {x['train_speakers']:>8} {x['train_keyword_clips']:>8} {100 * x['int8']:>5.1f}% "
                  f"{100 * x['val_hit']:>6.1f}% @{x['val_fa']:>4g}/h {100 * x['test_hit']:>6.1f}% @{x['test_fa']:>4g}/h "
                  f"{100 * x['det_hit']:>6.1f}%")
        if rows:
            m = {k: statistics.mean(x[k] for x in rows) for k in rows[0] if k != "run"}
            means.append((f, len(rows), m))
    print(f"\nmean over seeds (test quiet at each run's operating point; DET<=5: best test hit rate at <= "
          f"{DET_FA_PER_HOUR:g} FA/h, a diagnostic)")
    print(f"{'fraction':>8} {'runs':>4} {'speakers':>8} {'kw clips':>8} {'int8':>6} {'val quiet':>9} {'test quiet':>15} {'DET<=5':>7}")
    for f, n, m in means:
        print(f"{f:>8g} {n:>4} {m['train_speakers']:>8.0f} {m['train_keyword_clips']:>8.0f} {100 * m['int8']:>5.1f}% "
              f"{100 * m['val_hit']:>8.1f}% {100 * m['test_hit']:>6.1f}% @{m['test_fa']:>4.1f}/h {100 * m['det_hit']:>6.1f}%")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
