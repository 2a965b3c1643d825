"""``tinykws devices``: serial ports and which look like boards."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True)
def devices(as_json):
    """List serial ports with a guess of the board behind each."""
    from tinykws.board.serialio import list_ports

    ports = list_ports()
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in ports], indent=2))
        return
    if not ports:
        click.echo("no serial ports found")
        return
    for p in ports:
        ids = f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None else "-"
        click.echo(f"{p.device:<24} {ids:<10} {p.guess or '(unknown)':<40} {p.description}")
