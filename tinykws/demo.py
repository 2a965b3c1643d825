"""The demo: the whole host pipeline on speech tinykws makes itself.

No download and no board: keywords are synthesized with eSpeak NG (many voices,
pitches and rates; the eSpeak voice is the speaker, so whole voices are held out:
the test split holds only voices the model never heard in any variant), mixed with
generated noise, then trained, quantized to int8, verified on TFLM, judged on
streams (docs/evaluation.md, shortened to :data:`DEMO_STREAM_MINUTES` so the demo
stays within a few minutes) and exported as C, exactly as ``tinykws train`` does
on recorded data.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from tinykws.io import atomic_write_text

DEMO_WORDS = ("yes", "no", "up", "down")
#: Length of each evaluation stream in the demo (the protocol's is 60 minutes).
DEMO_STREAM_MINUTES = 5.0
#: Epochs of the demo's fit: as many as keep the whole demo within 5 minutes on a 2-core laptop.
DEMO_EPOCHS = 35
DEMO_UNKNOWN = ("left", "right", "stop", "go", "on", "off", "cat", "dog", "house", "tree", "bird", "wow")


def make_demo_dataset(root: Path, *, words=DEMO_WORDS, unknown=DEMO_UNKNOWN, variants: int = 250, seed: int = 0,
                      log: Callable[[str], None] = print) -> Path:
    """Synthesize the demo dataset into ``root`` unless an identical one is already there."""
    from tinykws.data.synth import synthesize_dataset

    params = {"words": list(words), "unknown": list(unknown), "variants": variants, "seed": seed, "version": 2}
    marker = root / "demo.json"
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == params:
                log(f"reusing synthetic dataset {root}")
                return root
        except json.JSONDecodeError:
            pass
        raise_if_not_ours(root)
    elif root.exists() and any(root.iterdir()):
        raise_if_not_ours(root)
    t = time.perf_counter()
    stats = synthesize_dataset(root, list(words), unknown_words=list(unknown), n_variants=variants, seed=seed)
    atomic_write_text(marker, json.dumps(params) + "\n")
    n = stats.get("clips", stats.get("n_clips", "?")) if isinstance(stats, dict) else "?"
    log(f"synthesized {n} clips into {root} in {time.perf_counter() - t:.1f} s")
    return root


def raise_if_not_ours(root: Path) -> None:
    from tinykws.errors import UserError

    raise UserError(f"{root} exists and was not made by this demo (or with other settings): remove it or pass --data DIR")


def run_demo(*, data_dir: Path, out_dir: Path, epochs: int = DEMO_EPOCHS, variants: int = 250, seed: int = 0,
             log: Callable[[str], None] = print) -> Path:
    from tinykws.pipeline import TrainConfig, train

    t0 = time.perf_counter()
    if data_dir.exists() and (data_dir / "demo.json").is_file():
        import shutil

        try:
            old = json.loads((data_dir / "demo.json").read_text())
            same = old.get("variants") == variants and old.get("seed") == seed and old.get("version") == 2
        except json.JSONDecodeError:
            same = False
        if not same:
            shutil.rmtree(data_dir)
    make_demo_dataset(data_dir, variants=variants, seed=seed, log=log)
    # The teacher's figures would add about a minute; `tinykws evaluate RUN --teacher` adds them to the demo's run.
    cfg = TrainConfig(dataset=str(data_dir), words=list(DEMO_WORDS), epochs=epochs, seed=seed, name="demo", patience=epochs,
                      stream_minutes=DEMO_STREAM_MINUTES, teacher=False)
    run = train(cfg, out_dir, log=log)
    r = json.loads((run / "report.json").read_text())
    r["demo"] = {"wall_s": round(time.perf_counter() - t0, 1), "synthetic": True,
                 "note": "trained and tested on eSpeak NG speech; whole test voices are held out of training",
                 "stream_minutes": DEMO_STREAM_MINUTES}
    atomic_write_text(run / "report.json", json.dumps(r, indent=2) + "\n")
    return run
