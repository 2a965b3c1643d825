"""``tinykws demo``: the whole pipeline on synthetic speech, no download, no board."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tinykws.cli._common import echo, quiet_tensorflow, runs_dir_option
from tinykws.demo import DEMO_EPOCHS


@click.command()
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default="datasets/demo", show_default=True,
              help="Where the synthetic dataset goes (reused when it exists).")
@runs_dir_option("--out", help="Where run folders go.")
@click.option("--epochs", type=click.IntRange(1, 1000), default=DEMO_EPOCHS, show_default=True)
@click.option("--variants", type=click.IntRange(4, 2000), default=250, show_default=True, help="Voice variants per word.")
@click.option("--seed", type=int, default=0, show_default=True)
def demo(data_dir, out, epochs, variants, seed):
    """Synthesize keywords (yes, no, up, down) with eSpeak NG, train, quantize, verify on TFLM, export C."""
    quiet_tensorflow()
    from tinykws.cli.runs import print_summary
    from tinykws.demo import run_demo

    run = run_demo(data_dir=Path(data_dir), out_dir=Path(out), epochs=epochs, variants=variants, seed=seed, log=echo)
    print_summary(run)
    wall = json.loads((run / "report.json").read_text())["demo"]["wall_s"]
    echo(f"demo finished in {wall:.0f} s. Next: `tinykws export {run}` writes its model folder for the firmware;")
    echo(f"`tinykws sim --run {run}` runs it on a virtual board.")
