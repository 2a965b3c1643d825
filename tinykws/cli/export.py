"""``tinykws export``: write a run's model folder (C files the firmware compiles)."""

from __future__ import annotations

import click

from tinykws.cli._common import board_option, echo, quiet_tensorflow, runs_dir_option


@click.command()
@click.argument("run", required=False)
@click.option("--firmware", "firmware_dir", type=click.Path(file_okay=False),
              help="A firmware tree of your own: write into its model/ folder instead of the run's firmware/ folder.")
@board_option(help="Refuse a model that does not fit this board, or that it cannot run fast enough at the run's stride "
                   "(nothing is written then).")
@runs_dir_option()
def export(run, firmware_dir, board, runs_dir):
    """Export RUN (default: the latest run) as the C model folder the firmware compiles.

    The firmware runs tinykws's native int8 engine (bit-exact with TFLM); a model it cannot run is refused.
    """
    quiet_tensorflow()
    from tinykws.export import command_line, export_run
    from tinykws.paths import build_project_dir
    from tinykws.run import resolve_run

    path = resolve_run(run, runs_dir)
    result = export_run(path, firmware_dir, board=board)
    for p in result.paths:
        echo(f"wrote {p}")
    for line in result.fit_lines:
        echo(f"  {line}")
    if board:
        echo(f"fits {board} with the native engine.")
    if firmware_dir is None:
        echo("build and upload it with `tinykws flash`, or by hand with PlatformIO:")
        for b in ([board] if board else ["nano33ble", "esp32dev"]):
            echo(f"  {command_line(b, result.model_dir, build_project_dir())}")
