"""``tinykws export``: write a run's model into the firmware tree."""

from __future__ import annotations

import click

from tinykws.cli._common import echo, quiet_tensorflow


@click.command()
@click.argument("run", required=False)
@click.option("--firmware", "firmware_dir", type=click.Path(file_okay=False), help="Firmware root (default: ./firmware).")
@click.option("--board", type=click.Choice(["nano33ble", "esp32dev"]), help="Refuse a model that does not fit this board.")
@click.option("--runs-dir", type=click.Path(file_okay=False), default="runs", show_default=True)
def export(run, firmware_dir, board, runs_dir):
    """Export RUN (default: the latest run) as C files the firmware compiles in."""
    quiet_tensorflow()
    from tinykws.export import export_run
    from tinykws.run import resolve_run

    path = resolve_run(run, runs_dir)
    for p in export_run(path, firmware_dir, board=board):
        echo(f"wrote {p}")
    if board:
        from tinykws.export.boards import check_fit
        from tinykws.quantize import builtin_ops
        from tinykws.run import load_run

        r = load_run(path)
        for line in check_fit(board, len(r.tflite_bytes), r.arena_bytes, builtin_ops(r.tflite_bytes)).lines:
            echo(f"  {line}")
        echo(f"fits {board}: build and upload with `tinykws flash --board {board}`")
