"""``tinykws data``: check, import, download and synthesize datasets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tinykws.cli._common import echo, parse_words


@click.group()
def data():
    """Datasets you can trust: check, import, download, synthesize."""


@data.command()
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option("--strict", is_flag=True, help="Exit 1 when any file has an error.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write a PNG overview here (never into the dataset).")
def check(dataset, as_json, strict, plot):
    """Report counts, formats and problems of DATASET; never modifies it."""
    from tinykws.data.check import check_dataset, plot_overview
    from tinykws.io import check_writable

    if plot:
        check_writable(plot, "--plot")  # before every file is read
    r = check_dataset(dataset)
    if plot:
        plot_overview(r, Path(plot))
    r.pop("_reports")
    if as_json:
        click.echo(json.dumps(r, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        c = Console()
        echo(f"{r['root']}: {r['files']} files, {r['speakers']} speakers")  # a line, not a title wrapped to the table
        t = Table()
        t.add_column("label")
        t.add_column("clips", justify="right")
        t.add_column("speakers", justify="right")
        for l, n in r["labels"].items():
            t.add_row(l, str(n), str(r["speakers_per_label"][l]))
        c.print(t)
        echo(f"background noise files: {r['background_files']}; sample rates: {r['sample_rates']}; formats: {r['formats']}")
        echo(f"files with errors: {r['files_with_errors']}, with warnings: {r['files_with_warnings']}")
        for k, v in sorted(r["warning_kinds"].items(), key=lambda kv: -kv[1]):
            echo(f"  {v:5d}  {k}")
        for p in r["dataset_problems"]:
            echo(f"dataset: {p}")
        # Every file with an error is named (each one must be fixed or removed); warnings stay counted above.
        for i in r["issues"]:
            if i["errors"]:
                echo(f"ERROR {i['file']}: {'; '.join(i['errors'])}")
        if r["files_with_warnings"]:
            echo(f"({r['files_with_warnings']} file(s) with warnings only; --json lists every finding)")
        echo(f"dataset hash: {r['dataset_hash']}")
    if strict and r["files_with_errors"]:
        sys.exit(1)


@data.command(name="import")
@click.argument("src", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--speaker", "speaker_re", metavar="REGEX",
              help="Regular expression with one group, searched in each file name (without extension); the group "
                   "is the speaker. Default: Speech Commands names, <speaker>_nohash_<n> (else each file is its own).")
@click.option("--speaker-from", type=click.Choice(["name", "folder"]), default="name", show_default=True,
              help="folder: SRC/<label>/<speaker>/<file>, the folder under the label folder is the speaker.")
def import_(src, out, speaker_re, speaker_from):
    """Convert SRC/<label>/<audio> into a 16 kHz, 1 s, Speech Commands style dataset OUT.

    The split keeps each speaker's clips together, so say how to find the speaker (--speaker or
    --speaker-from); a warning says when every file ends up its own speaker.
    """
    from tinykws.data.importer import import_folder
    from tinykws.io import check_writable

    check_writable(out, "OUT", folder=True)
    r = import_folder(src, out, speaker=speaker_re, speaker_from=speaker_from)
    for s in r["skipped"]:
        echo(f"skipped {s['file']}: {s['reason']}")
    for n in r["notes"]:
        echo(f"note: {n}")
    echo(f"imported {r['imported']} file(s) from {r['speakers']} speaker(s) into {out}, skipped {len(r['skipped'])}")
    for w in r["warnings"]:
        click.echo(f"warning: {w}", err=True)


@data.command()
@click.argument("name", type=click.Choice(["speech-commands"]))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--version", "version", type=click.Choice(["0.01", "0.02"]), default="0.02", show_default=True)
@click.option("--url", help="Another location of the same archive (a mirror): checked against the same published "
              "size and sha256.")
@click.option("--sha256", help="Expected sha256 of another archive (replaces the published size and sha256).")
def download(name, out, version, url, sha256):
    """Download Speech Commands into OUT (resumable; keeps its validation/testing lists)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from tinykws.data.download import download_speech_commands

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn()) as p:
        task = p.add_task("download", total=None)
        r = download_speech_commands(out, version=version, url=url, sha256=sha256,
                                     progress=lambda done, total: p.update(task, completed=done, total=total if total > 0 else None))
    echo(f"{r['files']} files in {r['out']} ({r['bytes']:,} bytes); split lists: {', '.join(r['lists']) or 'none'}")


@data.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--words", required=True, help="Comma-separated keywords.")
@click.option("--unknown", help="Comma-separated other words (become _unknown_ in training).")
@click.option("--variants", type=click.IntRange(1, 5000), default=60, show_default=True, help="Voice variants per word.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes (output is identical for the same seed and workers).")
def synth(out, words, unknown, variants, seed, workers):
    """Synthesize keyword clips with eSpeak NG (many voices, rates, pitches) into OUT."""
    from tinykws.data.synth import synthesize_dataset
    from tinykws.io import check_writable

    check_writable(out, "OUT", folder=True)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as p:
        task = p.add_task("voice variants", total=variants)
        r = synthesize_dataset(out, parse_words(words) or [], unknown_words=parse_words(unknown) or [],
                               n_variants=variants, seed=seed, workers=workers,
                               progress=lambda done, total: p.update(task, completed=done, total=total))
    echo(f"wrote {r['clips']} clips from {len(r['variants'])} voice variants into {out} in {r['seconds']} s")
