"""Helpers shared by the CLI modules: quiet TensorFlow, consistent output, termination as Ctrl-C."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import warnings

import click


def quiet_tensorflow() -> None:
    """Keep TensorFlow's and the converter's chatter out of the user's terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    if "tensorflow" not in sys.modules:
        from tinykws.io import quiet_fd

        # TensorFlow's C++ start-up chatter (oneDNN, CPU features) goes straight to fd 2.
        with quiet_fd(2):
            import tensorflow  # noqa: F401


def echo(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


def parse_words(words: str | None) -> list[str] | None:
    if words is None:
        return None
    out = [w.strip() for w in words.split(",") if w.strip()]
    return out or None


def board_option(**kwargs):
    """``--board`` with the boards of :data:`tinykws.export.boards.BOARDS` (the one list of boards)."""
    from tinykws.export.boards import BOARDS

    return click.option("--board", type=click.Choice(list(BOARDS)), **kwargs)


def runs_dir_option(*names: str, **kwargs):
    """The folder of run folders (default :data:`tinykws.run.DEFAULT_RUNS_DIR`), under the given option names."""
    from tinykws.run import DEFAULT_RUNS_DIR

    kwargs.setdefault("type", click.Path(file_okay=False))
    return click.option(*(names or ("--runs-dir",)), default=str(DEFAULT_RUNS_DIR), show_default=True, **kwargs)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def interrupt_on_termination() -> None:
    """Make SIGTERM and SIGHUP (a closed terminal, ``kill``) raise KeyboardInterrupt, as Ctrl-C does, so
    a command's clean-up (``rec stop`` to the board, the summary so far) runs on those exits too."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)


@contextlib.contextmanager
def stop_on_signals():
    """:func:`interrupt_on_termination` for the ``with`` block only, the previous handlers restored after.

    Their default action kills the process at once: ``finally`` blocks (a link to remove, a
    registry entry, a board to stop) would never run.
    """
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    interrupt_on_termination()
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
