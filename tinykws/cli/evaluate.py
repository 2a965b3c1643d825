"""``tinykws evaluate``: a trained run against any dataset in the same layout."""

from __future__ import annotations

import json

import click

from tinykws.cli._common import echo, quiet_tensorflow, runs_dir_option
from tinykws.evaluate.streaming import STREAM_MINUTES
from tinykws.export.boards import BOARDS
from tinykws.evaluate.tuning import DEFAULT_BOARD


@click.command()
@click.argument("run")
@click.argument("dataset", type=click.Path(file_okay=False), required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (same keys as report.json).")
@click.option("--streaming", is_flag=True,
              help="Streaming evaluation (docs/evaluation.md): hit rate and false accepts per hour on the validation "
                   "and test streams, quiet and noisy, at the run's operating point.")
@click.option("--stream-minutes", type=click.FloatRange(0.1, 6000), default=STREAM_MINUTES, show_default=True,
              help="Length of each stream (shorter than the protocol's 60 minutes: not protocol figures).")
@click.option("--noise", "noise_dir", type=click.Path(file_okay=False),
              help="With --streaming: your own background recordings (e.g. the room the board lives in) instead of the "
                   "dataset's; validation streams use the first half of each, test streams the second.")
@click.option("--target-fa-per-hour", type=click.FloatRange(0, 1000), default=None,
              help="With --streaming: choose the operating point again, on the quiet validation stream, for this "
                   "false-accept rate, and write it into the run.")
@click.option("--board", type=click.Choice(list(BOARDS)), default=DEFAULT_BOARD, show_default=True,
              help="With --target-fa-per-hour: the board whose shortest sustainable stride is tried.")
@click.option("--teacher", is_flag=True,
              help="Train the pretrained ear's head on the run's own training data and add its clip and stream figures "
                   "to the run's report, beside the board model's (for runs made with --no-teacher). With --streaming "
                   "and a folder the run never saw: hear it with the run's teacher too, beside the board model.")
@runs_dir_option()
def evaluate(run, dataset, as_json, streaming, stream_minutes, noise_dir, target_fa_per_hour, board, teacher, runs_dir):
    """Evaluate RUN on DATASET (default with --streaming: the run's own): accuracy, or streaming behaviour."""
    quiet_tensorflow()
    from tinykws.errors import UserError
    from tinykws.run import load_run, resolve_run

    r = load_run(resolve_run(run, runs_dir))
    teacher_unseen = teacher and streaming and dataset is not None and target_fa_per_hour is None
    if teacher_unseen:
        from tinykws.evaluate.tuning import is_own_dataset

        teacher_unseen = not is_own_dataset(r, dataset)
    if teacher and not teacher_unseen:
        if streaming or dataset is not None or noise_dir is not None or target_fa_per_hour is not None:
            raise UserError("--teacher alone adds the teacher to the run (its own dataset and streams); with --streaming "
                            "it hears a folder the run never saw beside the board model")
        from tinykws.pipeline import add_teacher

        sec = add_teacher(r, minutes=stream_minutes if stream_minutes != STREAM_MINUTES else None,
                          log=None if as_json else echo)
        if as_json:
            click.echo(json.dumps(sec, indent=2))
        return
    if not streaming:
        for flag, v in (("--noise", noise_dir), ("--target-fa-per-hour", target_fa_per_hour)):
            if v is not None:
                raise UserError(f"{flag} needs --streaming")
    if streaming:
        from tinykws.evaluate.tuning import tune_run

        result = tune_run(r, dataset, minutes=stream_minutes, target_fa_per_hour=target_fa_per_hour, board=board,
                          noise_dir=noise_dir, log=None if as_json else echo)
        if teacher_unseen:
            from tinykws.ear.stage import teacher_unseen as hear
            from tinykws.evaluate.tuning import summary_lines

            result["teacher"] = hear(r, dataset, minutes=stream_minutes, noise_dir=noise_dir,
                                     log=None if as_json else echo)
            if not as_json:
                for line in summary_lines(result["teacher"]):
                    echo("teacher " + line.strip())
        if as_json:
            click.echo(json.dumps({k: v for k, v in result.items() if k not in ("det", "drift")}, indent=2))
        return
    if dataset is None:
        raise UserError("give the DATASET to evaluate on (clip accuracy); --streaming defaults to the run's own")
    from tinykws.evaluate.clips import evaluate_run_on_dataset

    res = evaluate_run_on_dataset(r, dataset, log=None if as_json else echo)
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return
    acc = res["accuracy"]
    echo(f"{res['n']} clips: float {100 * acc['float']:.1f} %, int8 (TFLM) {100 * acc['int8']:.1f} %")
    for l, v in acc["per_class"].items():
        echo(f"  {l:>12}: {'-' if v is None else f'{100 * v:.1f} %'}")
