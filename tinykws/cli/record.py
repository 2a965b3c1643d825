"""``tinykws record``: keyword clips from the board's microphone into a dataset."""

from __future__ import annotations

from pathlib import Path

import click

from tinykws.cli._common import echo, interrupt_on_termination


@click.command()
@click.option("--port", default="auto", show_default=True)
@click.option("--baud", type=int, default=921600, show_default=True)
@click.option("--label", required=True, help="The word (folder name: letters, digits, _ and -), "
                                             "or _background_noise_ with --seconds.")
@click.option("--count", type=click.IntRange(1, 10000), default=10, show_default=True)
@click.option("--seconds", type=click.FloatRange(1, 3600), help="One long take (for _background_noise_).")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Dataset folder.")
@click.option("--speaker", help="Speaker name (default: a stable id of this computer's user).")
@click.option("--countdown", type=click.FloatRange(0, 10), default=2.0, show_default=True)
@click.option("--source", type=click.Choice(["board", "laptop"]), default="board", show_default=True)
def record(port, baud, label, count, seconds, out, speaker, countdown, source):
    """Record COUNT clips of LABEL (1 s each, spoken part centred) into OUT/LABEL/.

    The sample rate is the board's (its BOOT line); each take's peak level is checked against a target.
    """
    from tinykws.board.record import record as do_record
    from tinykws.board.serialio import BoardLink, open_port, resolve_port
    from tinykws.labels import check_label

    from tinykws.io import check_writable

    check_label(label, "--label")  # before any port is opened
    check_writable(out, "--out", folder=True)
    if source == "laptop":
        from tinykws.board.laptop_mic import LaptopMic

        link = LaptopMic()
    else:
        port = resolve_port(port)
        link = BoardLink(open_port(port, baud), port)
    interrupt_on_termination()  # killed or hung up mid-take: the board still gets `rec stop`
    try:
        takes = do_record(link, label=label, count=count, out=Path(out), speaker=speaker, countdown_s=countdown,
                          seconds=seconds, say=echo)
    finally:
        link.close()
    echo(f"{len(takes)} file(s) written to {Path(out) / label}")
