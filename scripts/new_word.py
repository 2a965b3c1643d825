#!/usr/bin/env python
"""A new word from a few takes (docs/evaluation.md §7): train on N takes of a word by a few voices, hear everyone else.

For each WORD and seed, from DATASET (Speech Commands layout, say ../shared/datasets/speech_commands_dev):

1. ``mine/``: ``WORD/`` with TAKES takes of at most SPEAKERS voices (the voices with the most takes,
   ties broken by a hash salted with the seed), and ``_background_noise_/`` (the dataset's, as a
   room recording). Nothing else: ``tinykws train mine --words WORD`` adds the rest by itself;
2. with ``--negatives``: also ``negatives/``, the dataset's other word folders (never WORD) of the
   speakers on one side of a hash, passed as ``--negatives`` (a Speech Commands download, as a
   user would point at);
3. ``unseen/``: every take of WORD by the other speakers, the other word folders of the speakers
   on the other side of that hash, and the last 20 % of each noise recording (training hears the
   first 80 %). ``tinykws evaluate RUN unseen --streaming`` hears it as one stream at the run's own
   operating point (chosen on its own validation stream): the figure a maker's friends would meet.
   A run trained with its teacher (no ``--no-teacher``) is heard by its teacher too, at the teacher's own
   operating point, on the same stream (``--teacher``): the gap to the pretrained ear.

Prints one line per run and the mean per word. Runs already in OUT are reused.

Usage: python scripts/new_word.py DATASET [--words happy,bed,cat] [--takes 20] [--speakers 4]
       [--seeds 0 1 2] [--negatives] [--stream-minutes 60] [--own-stream-minutes 20]
       [--out runs/new-word] [--jobs 1] [-- TRAIN OPTIONS]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Other-word speakers whose hash is even go to the negatives folder, odd ones to the unseen stream.
NEGATIVE_SIDE = 0


def _h(s: str) -> int:
    return int(hashlib.sha1(s.encode()).hexdigest()[:8], 16)


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists():
        os.symlink(src.resolve(), dst)


def choose_takes(files: list[Path], takes: int, speakers: int, seed: int) -> list[Path]:
    """Up to ``takes`` files of at most ``speakers`` voices: the voices with the most takes, ties by a seeded hash."""
    from tinykws.data.dataset import speaker_of

    by: dict[str, list[Path]] = {}
    for f in sorted(files):
        by.setdefault(speaker_of(f), []).append(f)
    order = sorted(by, key=lambda s: (-len(by[s]), _h(f"{seed}|{s}")))
    out: list[Path] = []
    for s in order[:speakers]:
        out += by[s][: takes - len(out)]
        if len(out) >= takes:
            break
    return out


def make_folders(dataset: Path, word: str, seed: int, takes: int, speakers: int, dest: Path) -> dict:
    """``dest/{mine,negatives,unseen}`` (links; the noise cut is written); returns what went where."""
    import soundfile as sf

    from tinykws.data.dataset import AUDIO_SUFFIXES, BACKGROUND, speaker_of

    def audio(folder: Path) -> list[Path]:
        return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)

    files = audio(dataset / word)
    train = choose_takes(files, takes, speakers, seed)
    voices = sorted({speaker_of(f) for f in train})
    for f in train:
        _link(f, dest / "mine" / word / f.name)
    for f in audio(dataset / BACKGROUND):
        _link(f, dest / "mine" / BACKGROUND / f.name)
    heard = [f for f in files if speaker_of(f) not in voices]
    for f in heard:
        _link(f, dest / "unseen" / word / f.name)
    n_neg = n_other = 0
    for folder in sorted(p for p in dataset.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")) and p.name != word):
        for f in audio(folder):
            spk = speaker_of(f)
            if spk in voices:
                continue
            side = "negatives" if _h(spk) % 2 == NEGATIVE_SIDE else "unseen"
            _link(f, dest / side / folder.name / f.name)
            n_neg += side == "negatives"
            n_other += side == "unseen"
    (dest / "unseen" / BACKGROUND).mkdir(parents=True, exist_ok=True)
    for f in audio(dataset / BACKGROUND):
        out = dest / "unseen" / BACKGROUND / (f.stem + ".wav")
        if not out.exists():
            y, sr = sf.read(f, dtype="int16")
            sf.write(out, y[int(len(y) * 0.8):], sr, subtype="PCM_16")
    return {"takes": len(train), "voices": voices, "unseen_takes": len(heard), "negatives": n_neg, "unseen_other": n_other}


def main() -> int:
    from learning_curve import train_all

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--words", default="happy,bed,cat")
    ap.add_argument("--takes", type=int, default=20)
    ap.add_argument("--speakers", type=int, default=4)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--negatives", action="store_true", help="also point --negatives at the dataset's other words")
    ap.add_argument("--stream-minutes", type=float, default=60.0, help="the unseen stream")
    ap.add_argument("--own-stream-minutes", type=float, default=20.0, help="the run's own streams (its operating point)")
    ap.add_argument("--out", type=Path, default=Path("runs/new-word"))
    ap.add_argument("--jobs", type=int, default=1)
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    a = ap.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if not a.dataset.is_dir():
        print(f"error: dataset not found: {a.dataset}", file=sys.stderr)
        return 2
    words = [w for w in a.words.split(",") if w]
    missing = [w for w in words if not (a.dataset / w).is_dir()]
    if missing:
        print(f"error: {a.dataset} has no folder for {', '.join(missing)}", file=sys.stderr)
        return 2
    runs = a.out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    arm = f"t{a.takes}v{a.speakers}" + ("-neg" if a.negatives else "")
    plan, todo = [], []
    for w in words:
        for s in a.seeds:
            name = f"{w}-{arm}-s{s}"
            dest = a.out / "data" / f"{w}-t{a.takes}v{a.speakers}-s{s}"
            info = make_folders(a.dataset, w, s, a.takes, a.speakers, dest)
            plan.append((w, s, name, dest, info))
            if not any(runs.glob(f"*-{name}")):
                cmd = [sys.executable, "-m", "tinykws", "train", str(dest / "mine"), "--words", w, "--seed", str(s),
                       "--name", name, "--stream-minutes", str(a.own_stream_minutes), "--out", str(runs), *extra]
                if a.negatives:
                    cmd[cmd.index("--out"):cmd.index("--out")] = ["--negatives", str(dest / "negatives")]
                todo.append(cmd)
    if train_all(todo, runs, a.jobs):
        return 1
    from tinykws.ear.head import HEAD_FILE

    rows = []
    for w, s, name, dest, info in plan:
        run = sorted(runs.glob(f"*-{name}"))[-1]
        cache = run / f"unseen-{a.stream_minutes:g}.json"
        has_head = (run / HEAD_FILE).is_file()
        r = json.loads((run / "report.json").read_text())
        if cache.is_file():
            old = json.loads(cache.read_text())
            # Heard at another operating point (chosen again since) or before the run had a teacher head: again.
            if old.get("operating_point") != r["streaming"]["operating_point"] or (has_head and "teacher" not in old):
                cache.unlink()
        if not cache.is_file():
            p = subprocess.run([sys.executable, "-m", "tinykws", "evaluate", str(run), str(dest / "unseen"), "--streaming",
                                "--stream-minutes", str(a.stream_minutes), "--json", *(["--teacher"] if has_head else [])],
                               capture_output=True, text=True)
            if p.returncode:
                print(p.stderr.strip(), file=sys.stderr)
                return 1
            cache.write_text(p.stdout)
        heard = json.loads(cache.read_text())
        u = heard["unseen"]
        tu = (heard.get("teacher") or {}).get("unseen") or {}
        rows.append({"word": w, "seed": s, **info, "clip_int8": r["accuracy"]["int8"],
                     "own_test_quiet": r["streaming"]["test"]["quiet"]["hit_rate"],
                     **{f"unseen_{c}": u[c]["hit_rate"] for c in u}, **{f"unseen_{c}_fa": u[c]["fa_per_hour"] for c in u},
                     "keywords": u["quiet"]["keywords"], "other_words": u["quiet"]["other_words"],
                     "teacher_own_test_quiet": ((r.get("teacher") or {}).get("test") or {}).get("quiet", {}).get("hit_rate"),
                     **{f"teacher_unseen_{c}": tu[c]["hit_rate"] for c in tu},
                     **{f"teacher_unseen_{c}_fa": tu[c]["fa_per_hour"] for c in tu}})
    print(f"\n{arm}: {a.stream_minutes:g}-minute unseen streams at each run's own operating point")
    print("| word | seed | takes (voices) | unseen takes | quiet: hits at FA/h | noisy: hits at FA/h | own test stream | "
          "teacher, own test | teacher, unseen quiet |")
    print("|---|---|---|---|---|---|---|---|---|")
    for x in rows:
        t, tu, tfa = x["teacher_own_test_quiet"], x.get("teacher_unseen_quiet"), x.get("teacher_unseen_quiet_fa")
        teacher_unseen = "-" if tu is None else f"{100 * tu:.1f} % at {tfa:g}"
        print(f"| {x['word']} | {x['seed']} | {x['takes']} ({len(x['voices'])}) | {x['unseen_takes']} | "
              f"{100 * x['unseen_quiet']:.1f} % at {x['unseen_quiet_fa']:g} | "
              f"{100 * x.get('unseen_noisy', 0):.1f} % at {x.get('unseen_noisy_fa', 0):g} | {100 * x['own_test_quiet']:.1f} % | "
              f"{'-' if t is None else f'{100 * t:.1f} %'} | "
              f"{teacher_unseen} |")
    for w in words:
        xs = [x for x in rows if x["word"] == w]
        print(f"mean {w}: quiet {100 * statistics.mean(x['unseen_quiet'] for x in xs):.1f} % at "
              f"{statistics.mean(x['unseen_quiet_fa'] for x in xs):.2f} FA/h over {len(xs)} seed(s)")
    print(f"mean all: quiet {100 * float(np.mean([x['unseen_quiet'] for x in rows])):.1f} % at "
          f"{float(np.mean([x['unseen_quiet_fa'] for x in rows])):.2f} FA/h")
    tq = [x for x in rows if x.get("teacher_unseen_quiet") is not None]
    if tq:
        print(f"mean teacher (runs with a head, {len(tq)}): quiet {100 * float(np.mean([x['teacher_unseen_quiet'] for x in tq])):.1f} % "
              f"at {float(np.mean([x['teacher_unseen_quiet_fa'] for x in tq])):.2f} FA/h; the board model on the same runs "
              f"{100 * float(np.mean([x['unseen_quiet'] for x in tq])):.1f} % at {float(np.mean([x['unseen_quiet_fa'] for x in tq])):.2f}")
    (a.out / f"{arm}.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
