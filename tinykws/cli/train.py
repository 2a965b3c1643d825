"""``tinykws train``: a dataset folder in, a run folder out."""

from __future__ import annotations

import click

from tinykws.cli._common import echo, parse_words, quiet_tensorflow, runs_dir_option
from tinykws.model.architectures import ARCHITECTURES
from tinykws.model.encoders import CHOICES as ENCODER_CHOICES, DEFAULT_ENCODER
from tinykws.evaluate.streaming import STREAM_MINUTES
from tinykws.export.boards import BOARDS
from tinykws.evaluate.tuning import DEFAULT_BOARD, DEFAULT_TARGET_FA_PER_HOUR
from tinykws.model.train import FitConfig


def recipe_options(f):
    """The training recipe's switches (``--no-X`` turns one part off); defaults are TrainConfig's."""
    from tinykws.pipeline import TrainConfig

    d = TrainConfig.__dataclass_fields__
    switches = [
        ("synth-keywords", "eSpeak NG clips of the keywords join training"),
        ("near-misses", "eSpeak NG near-miss and other words join _unknown_"),
        ("all-unknown", "every training clip of a non-keyword folder joins _unknown_"),
        ("stream-windows", "words at random places over background at stream levels"),
        ("partial-words", "windows holding a small part of a keyword, as _unknown_"),
        ("background-windows", "_silence_ as background windows at random levels"),
        ("stream-checkpoint", "keep the weights with the best validation-stream hit rate"),
    ]
    for name, help_text in reversed(switches):
        key = name.replace("-", "_")
        f = click.option(f"--{name}/--no-{name}", key, default=d[key].default, show_default=True, help=help_text[0].upper() + help_text[1:] + ".")(f)
    f = click.option("--hard-negative-rounds", type=click.IntRange(0, 10), default=d["hard_negative_rounds"].default,
                     show_default=True, help="Rounds of mining a keyword-free training stream for windows the model fires on.")(f)
    f = click.option("--negative-weight", type=click.FloatRange(0.1, 100), default=d["negative_weight"].default,
                     show_default=True, help="Loss weight of _unknown_ and _silence_ against a keyword class: "
                     "higher trades hits for fewer false accepts.")(f)
    f = click.option("--frozen-trunk", type=click.IntRange(-1, 1000), default=None,
                     help="Leading trunk layers with weights kept at the pretrained encoder's weights (-1: the whole "
                     "trunk, only the classifier learns; 0: every layer learns). Default: -1 for a dataset split by "
                     "take (a few voices), else 0.")(f)
    return f


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
@click.option("--negatives", "negatives", multiple=True, type=click.Path(file_okay=False),
              help="A folder of other words (e.g. a Speech Commands download): its folders that are not keywords join "
                   "as other words. A dataset of keywords only gets synthetic other words and room noise without it. "
                   "Repeatable.")
@click.option("--target-fa-per-hour", type=click.FloatRange(0, 1000), default=DEFAULT_TARGET_FA_PER_HOUR, show_default=True,
              help="False accepts per hour the operating point is chosen for, on the quiet validation stream.")
@click.option("--board", type=click.Choice(list(BOARDS)), default=DEFAULT_BOARD, show_default=True,
              help="Board whose shortest sustainable stride (native engine) the operating point starts from.")
@click.option("--stream-minutes", type=click.FloatRange(0.1, 6000), default=None,
              help=f"Length of each evaluation stream (docs/evaluation.md; shorter: not protocol figures). Default: "
                   f"{STREAM_MINUTES:g}, or 10 for a dataset split by take.")
@click.option("--encoder", type=click.Choice(list(ENCODER_CHOICES)), default=None,
              help=f"Start the trunk from the pretrained encoder shipped for the arch, or from scratch "
              f"(default: {DEFAULT_ENCODER} where one fits; docs/ear.md).")
@click.option("--teacher/--no-teacher", default=True, show_default=True,
              help="Also train the pretrained ear's head (Google's speech embedding, on the laptop) on this data and "
                   "report its clip and stream figures beside the board model's: what this data can give.")
@recipe_options
@runs_dir_option("--out", help="Where run folders go.")
def train(dataset, words, arch, epochs, batch_size, seed, name, extra_train, negatives, target_fa_per_hour, board, stream_minutes, encoder,
          teacher, out, **recipe):
    """Train, quantize to int8 and verify on TFLM; writes runs/<time>-<name>/."""
    quiet_tensorflow()
    from tinykws.pipeline import TrainConfig, train as run_training

    cfg = TrainConfig(dataset=dataset, words=parse_words(words), arch=arch, epochs=epochs,
                      batch_size=batch_size, seed=seed, name=name,
                      extra_train_dirs=list(extra_train), negatives=list(negatives), target_fa_per_hour=target_fa_per_hour, board=board,
                      stream_minutes=stream_minutes, encoder=encoder, teacher=teacher, **recipe)
    run = run_training(cfg, out, log=echo)
    from tinykws.cli.runs import print_summary

    print_summary(run)
