"""``tinykws report``: summary, plots and drift from a monitor log."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tinykws.cli._common import echo, runs_dir_option


@click.command()
@click.argument("log", type=click.Path(dir_okay=False))
@click.option("--run", "run", help="Run to compare the board's scores with (default: none).")
@runs_dir_option()
@click.option("--out", type=click.Path(file_okay=False), help="Where the PNG plots go (default: next to the log).")
@click.option("--json", "as_json", is_flag=True)
def report(log, run, runs_dir, out, as_json):
    """Summarise LOG (from `tinykws monitor --log`): latency, detections, dropped audio, drift."""
    from tinykws.board.logreport import plot_report, read_log, summarize
    from tinykws.io import check_writable

    recs = read_log(Path(log))
    out_dir = Path(out) if out else Path(log).with_suffix("").parent / (Path(log).stem + "_report")
    check_writable(out_dir, "--out" if out else "plots folder", folder=True)
    r = None
    if run:
        from tinykws.run import load_run, resolve_run

        r = load_run(resolve_run(run, runs_dir))
    s = summarize(recs, r)
    s["plots"] = [str(p) for p in plot_report(recs, out_dir, r)]
    if as_json:
        click.echo(json.dumps(s, indent=2))
        return
    lat = s["latency_us"]["total"]
    echo(f"{s['inferences']} inferences; total latency p50 {lat['p50'] / 1000:.1f} ms, p95 {lat['p95'] / 1000:.1f} ms, "
         f"max {lat['max'] / 1000:.1f} ms" if lat else f"{s['inferences']} inferences")
    by_label = s["detections_by_label"]
    echo(f"{s['detections']} detections" + (": " + ", ".join(f"{k} {v}" for k, v in by_label.items()) if by_label else ""))
    if s["dropped"] is None:
        echo("dropped samples and microphone overflows: not known (the log holds no STAT line)")
    else:
        echo(f"dropped samples {s['dropped']}, microphone overflows {s['overflows']}")
    if s["watchdog_resets"]:
        echo(f"WATCHDOG: the board was reset by its watchdog {s['watchdog_resets']} time(s) of {s['starts']} start(s) "
             "in this log: a pass of its loop hung (docs/protocol.md, BOOT reset=)")
    if s["protocol_errors"]:
        echo(f"{s['protocol_errors']} protocol errors ignored: lines that are not protocol, or name a label the board's "
             "BOOT did not")
    if "drift" in s:
        d = s["drift"]
        echo(("DRIFT: " if d["drift"] else "no drift: ") + f"KS statistic {d['ks_statistic']} (threshold {d['threshold']}) "
             f"between {d['board_scores']} board scores and {d['reference_scores']} scores of the run's {d['reference']}"
             + (f" ({d['left_out']} inferences of another model left out)" if d.get("left_out") else ""))
    echo("plots: " + ", ".join(s["plots"]))
