"""``tinykws flash``: export + PlatformIO upload + model hash check."""

from __future__ import annotations

import click

from tinykws.cli._common import board_option, echo, quiet_tensorflow, runs_dir_option


@click.command()
@board_option(required=True)
@click.option("--run", "run", help="Run folder or name (default: the latest).")
@runs_dir_option()
@click.option("--port", default="auto", show_default=True)
@click.option("--mic-gain", type=click.IntRange(1, 64), metavar="N",
              help="Digital microphone gain compiled in (-DKWS_MIC_GAIN=N); `tinykws record` says when to raise it.")
@click.option("--dry-run", is_flag=True, help="Export and print the PlatformIO command without running it.")
def flash(board, run, runs_dir, port, mic_gain, dry_run):
    """Export the run's model folder, build the firmware with it, upload, and check the board runs it.

    Extra build flags travel in PLATFORMIO_BUILD_FLAGS, after any you set there yourself.
    """
    quiet_tensorflow()
    from tinykws.board.flash import flash as do_flash
    from tinykws.board.serialio import resolve_port
    from tinykws.run import resolve_run

    run_path = resolve_run(run, runs_dir)
    port = port if dry_run and port == "auto" else resolve_port(port)
    do_flash(board=board, run_path=run_path, port=port, dry_run=dry_run, say=echo, mic_gain=mic_gain)
