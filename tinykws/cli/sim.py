"""``tinykws sim``: a virtual board on a pseudo-terminal."""

from __future__ import annotations

import os
import time

import click

from tinykws.cli._common import echo, quiet_tensorflow, runs_dir_option


@click.command()
@click.option("--run", "run", help="Run folder or name (default: the latest in --runs-dir).")
@runs_dir_option()
@click.option("--wav", "wavs", multiple=True, type=click.Path(dir_okay=False), help="Microphone audio (repeatable).")
@click.option("--realtime/--fast", default=True, show_default=True, help="Audio at the real rate, or as fast as read.")
@click.option("--loop", is_flag=True, help="Repeat the WAV files instead of falling quiet after them.")
@click.option("--link", "link", type=click.Path(dir_okay=False), help="Also make a symlink to the port here.")
@click.option("--duration", type=float, help="Stop after this many seconds of audio.")
def sim(run, runs_dir, wavs, realtime, loop, link, duration):
    """Run the firmware core with a run's model on a virtual serial port; prints the port path."""
    quiet_tensorflow()
    from tinykws.board.sim import open_sim
    from tinykws.run import resolve_run

    board = open_sim(resolve_run(run, runs_dir), list(wavs), realtime=realtime, loop=loop)
    if link:
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(board.port, link)
    echo(f"virtual board on {board.port}" + (f" (also {link})" if link else "") + "; Ctrl-C stops it")
    try:
        board.start(duration)
        while board._thread.is_alive():
            time.sleep(0.2)
    finally:
        board.close()
        if link and os.path.islink(link):
            os.unlink(link)
