"""``tinykws train``: a dataset folder in, a run folder out."""

from __future__ import annotations

import click

from tinykws.cli._common import echo, parse_words, quiet_tensorflow, runs_dir_option
from tinykws.model.architectures import ARCHITECTURES
from tinykws.model.train import FitConfig


@click.command()
@click.argument("dataset", type=click.Path(file_okay=False, path_type=str))
@click.option("--words", help="Comma-separated keywords; other label folders become _unknown_. Default: every folder is a keyword.")
@click.option("--arch", type=click.Choice(list(ARCHITECTURES)), default=FitConfig.arch, show_default=True)
@click.option("--epochs", type=click.IntRange(1, 10000), default=FitConfig.epochs, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 4096), default=FitConfig.batch_size, show_default=True)
@click.option("--seed", type=int, default=FitConfig.seed, show_default=True)
@click.option("--name", help="Run name (default: dataset folder and architecture).")
@click.option("--extra-train", "extra_train", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="Another dataset whose keyword clips join the training split only (e.g. `tinykws data synth` output). Repeatable.")
@runs_dir_option("--out", help="Where run folders go.")
def train(dataset, words, arch, epochs, batch_size, seed, name, extra_train, out):
    """Train, quantize to int8 and verify on TFLM; writes runs/<time>-<name>/."""
    quiet_tensorflow()
    from tinykws.pipeline import TrainConfig, train as run_training

    cfg = TrainConfig(dataset=dataset, words=parse_words(words), arch=arch, epochs=epochs,
                      batch_size=batch_size, seed=seed, name=name,
                      extra_train_dirs=list(extra_train))
    run = run_training(cfg, out, log=echo)
    from tinykws.cli.runs import print_summary

    print_summary(run)
