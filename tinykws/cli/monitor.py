"""``tinykws monitor``: detections and latency, live."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option("--port", default="auto", show_default=True)
@click.option("--baud", type=int, default=921600, show_default=True)
@click.option("--log", "log_path", type=click.Path(dir_okay=False), help="Append every line, time-stamped, to this file.")
@click.option("--duration", type=float, help="Stop after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="No live view; print a JSON summary at the end.")
def monitor(port, baud, log_path, duration, as_json):
    """Watch a board (or `tinykws sim`): per-stage latency p50/p95/max, rate, detections, dropped audio."""
    from tinykws.board.monitor import MonitorState, live_view, monitor as run_monitor
    from tinykws.board.serialio import resolve_port
    from tinykws.cli._common import interrupt_on_termination

    if log_path:
        from tinykws.io import check_writable

        check_writable(log_path, "--log", append=True)  # before the port is opened
    port = resolve_port(port)
    interrupt_on_termination()  # `kill` ends it as Ctrl-C does: with the summary
    state = MonitorState()  # filled in place: Ctrl-C (the usual way to stop) keeps what was seen
    if as_json:
        try:
            run_monitor(port, log_path=Path(log_path) if log_path else None, duration_s=duration, baud=baud, state=state)
        except KeyboardInterrupt:
            pass
        click.echo(json.dumps(state.summary(), indent=2))
        return
    from rich.live import Live

    with Live(refresh_per_second=4) as live:
        try:
            run_monitor(port, log_path=Path(log_path) if log_path else None, duration_s=duration, baud=baud,
                        on_update=lambda s: live.update(live_view(s)), state=state)
        except KeyboardInterrupt:
            pass
        live.update(live_view(state))
