"""``tinykws sim``: a virtual board on a pseudo-terminal."""

from __future__ import annotations

import time

import click

from tinykws.cli._common import echo, quiet_tensorflow, runs_dir_option, stop_on_signals


@click.command()
@click.option("--run", "run", help="Run folder or name (default: the latest in --runs-dir, else the shipped model).")
@runs_dir_option()
@click.option("--wav", "wavs", multiple=True, type=click.Path(dir_okay=False), help="Microphone audio (repeatable).")
@click.option("--realtime/--fast", default=True, show_default=True, help="Audio at the real rate, or as fast as read.")
@click.option("--loop", is_flag=True, help="Repeat the WAV files instead of falling quiet after them.")
@click.option("--link", "link", type=click.Path(dir_okay=False),
              help="Also make a symlink to the port here (never replaces anything but an old port link).")
@click.option("--duration", type=float, help="Stop after this many seconds of audio.")
def sim(run, runs_dir, wavs, realtime, loop, link, duration):
    """Run the firmware core with a run's model on a virtual serial port; prints the port path.

    `--port auto` of the other commands finds it while it runs.
    """
    from tinykws.board.sim import check_link_path, make_port_link, open_sim, register_sim, remove_port_link, unregister_sim

    if link:
        check_link_path(link)  # before the model loads; make_port_link checks again when it makes the link
    quiet_tensorflow()
    from tinykws.paths import default_model_dir
    from tinykws.run import sim_run

    r = sim_run(run, runs_dir)
    with stop_on_signals():
        board = open_sim(r, list(wavs), realtime=realtime, loop=loop)
        entry = None
        try:
            if link:
                make_port_link(link, board.port)
            entry = register_sim(board.port)
            if r.path == default_model_dir():
                echo(f"no run in {runs_dir}/: the shipped model ({', '.join(r.labels)}); pass --run for one of yours")
            echo(f"virtual board on {board.port}" + (f" (also {link})" if link else "") + "; Ctrl-C stops it")
            board.start(duration)
            while board._thread.is_alive():
                time.sleep(0.2)
        finally:
            board.close()
            if entry is not None:
                unregister_sim(entry)
            if link:
                remove_port_link(link, board.port)
