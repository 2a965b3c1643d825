"""``tinykws evaluate``: a trained run against any dataset in the same layout."""

from __future__ import annotations

import json

import click

from tinykws.cli._common import echo, quiet_tensorflow, runs_dir_option


@click.command()
@click.argument("run")
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (same keys as report.json).")
@click.option("--streaming", is_flag=True, help="Streaming evaluation: hits, false rejects and false accepts per hour on long audio.")
@click.option("--hours", type=click.FloatRange(0.01, 100), default=1.0, show_default=True, help="Length of the streaming audio.")
@click.option("--target-fa-per-hour", type=click.FloatRange(0, 1000), default=None, help="With --streaming: sweep thresholds and pick the operating point for this false-accept rate.")
@click.option("--seed", type=int, default=0, show_default=True)
@runs_dir_option()
def evaluate(run, dataset, as_json, streaming, hours, target_fa_per_hour, seed, runs_dir):
    """Evaluate RUN on DATASET: float and int8 (TFLM) accuracy, or streaming behaviour."""
    quiet_tensorflow()
    from tinykws.run import load_run, resolve_run

    r = load_run(resolve_run(run, runs_dir))
    if streaming:
        from tinykws.evaluate.tuning import tune_run

        result = tune_run(r, dataset, hours=hours, seed=seed, target_fa_per_hour=target_fa_per_hour, log=None if as_json else echo)
        if as_json:
            click.echo(json.dumps(result, indent=2))
        return
    from tinykws.evaluate.clips import evaluate_run_on_dataset

    res = evaluate_run_on_dataset(r, dataset, log=None if as_json else echo)
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return
    acc = res["accuracy"]
    echo(f"{res['n']} clips: float {100 * acc['float']:.1f} %, int8 (TFLM) {100 * acc['int8']:.1f} %")
    for l, v in acc["per_class"].items():
        echo(f"  {l:>12}: {'-' if v is None else f'{100 * v:.1f} %'}")
