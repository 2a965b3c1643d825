"""``tinykws runs``: a table of training runs and their key figures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from tinykws.cli._common import runs_dir_option


def _pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def print_summary(run: Path) -> None:
    """The closing table of ``train`` and ``demo``."""
    from rich.console import Console
    from rich.table import Table

    from tinykws.evaluate.tuning import stream_length
    from tinykws.run import model_dir, streaming_summary

    r = json.loads((Path(run) / "report.json").read_text())
    t = Table(title=f"run {r['run']}", show_header=False)
    t.add_column("what", no_wrap=True)
    t.add_column("value", overflow="fold")
    t.add_row("accuracy float / int8 (TFLM)", f"{_pct(r['accuracy']['float'])} / {_pct(r['accuracy']['int8'])}  ({r['n_test']} test clips)")
    t.add_row("TFLM vs tf.lite", f"top-1 agreement {_pct(r['tflm'].get('top1_agreement'))}, max int8 output diff {r['tflm'].get('max_abs_diff')}")
    t.add_row("flash (model)", f"{r['model']['tflite_bytes']:,} bytes")
    t.add_row("TFLM arena", f"{r['tflm']['arena_bytes']:,} bytes (compiled in {r['tflm']['arena_bytes_with_margin']:,})")
    t.add_row("params / MACs", f"{r['model']['params']:,} / {r['model']['macs']:,}")
    s = streaming_summary(r)
    if s:
        op = s["operating_point"]
        t.add_row("operating point", f"threshold {op['threshold']:.2f}, window {op['average_window_ms']} ms, min count "
                  f"{op['min_count']}, suppression {op['suppression_ms']} ms, stride {op['stride_ms']} ms ({op.get('chosen_on')})")
        for split in ("validation", "test"):
            for cond in ("quiet", "noisy"):
                x = (s.get(split) or {}).get(cond)
                if x:
                    t.add_row(f"stream: {split}, {cond}", f"{_pct(x['hit_rate'])} of {x['keywords']} keywords, "
                              f"{x['fa_per_hour']:g} false accepts/h ({stream_length(x['hours'])})"
                              + (": hears no keyword" if x["keywords"] and not x["hit_rate"] else ""))
    t.add_row("model folder (C)", str(model_dir(run)))
    t.add_row("report", str(Path(run) / "report.md"))
    Console().print(t)


def _stream_columns(s: dict | None) -> dict:
    """Test-stream figures at the run's operating point (``None`` for runs without docs/evaluation.md streams)."""
    out = {}
    for cond in ("quiet", "noisy"):
        x = ((s or {}).get("test") or {}).get(cond) or {}
        out[f"test_{cond}_hit_rate"] = x.get("hit_rate")
        out[f"test_{cond}_fa_per_hour"] = x.get("fa_per_hour")
    return out


def _row(p: Path) -> dict:
    """One run's figures; ``{"run", "damaged"}`` with a short reason when its folder does not pass :func:`load_run`."""
    from tinykws.errors import UserError
    from tinykws.run import load_run, streaming_summary

    try:
        r = load_run(p).report
        return {
            "run": p.name, "arch": r["model"]["arch"] + (" (pretrained)" if r["model"].get("encoder") == "pretrained" else ""), "labels": len(r["data"]["labels"]),
            "float": r["accuracy"]["float"], "int8": r["accuracy"]["int8"],
            "tflite_bytes": r["model"]["tflite_bytes"], "arena_bytes": r["tflm"]["arena_bytes"],
            "dataset_hash": r["data"]["dataset_hash"][:12],
            **_stream_columns(streaming_summary(r)),
        }
    except UserError as e:
        # The run's own path is in the row already: keep the reason short.
        reason = str(e).replace(f"{p}/", "").replace(f"{p}: ", "").replace(f"{p} ", "")
        return {"run": p.name, "damaged": re.sub(r"[:;] train (it|the run) again.*$", "", reason)}
    except OSError as e:
        return {"run": p.name, "damaged": f"cannot read {Path(e.filename or p).name} ({e.strerror or e})"}
    except (KeyError, TypeError, IndexError) as e:
        return {"run": p.name, "damaged": f"report.json lacks {e}" if isinstance(e, KeyError) else "report.json is malformed"}


#: Columns the one-line-per-run table needs; a narrower terminal (or a pipe) gets one block per run.
TABLE_WIDTH = 150


@click.command()
@runs_dir_option("--dir", "runs_dir")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def runs(runs_dir, as_json):
    """List runs, newest last, with their test-stream figures (docs/evaluation.md); damaged runs are named as such."""
    from rich.console import Console
    from rich.table import Table

    from tinykws.run import list_runs

    rows = [_row(p) for p in list_runs(runs_dir)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no runs in {runs_dir}/")
        return
    fa = lambda v: "-" if v is None else f"{v:g}"  # noqa: E731
    console = Console()
    if console.width < TABLE_WIDTH or not console.is_terminal:
        for i, r in enumerate(rows):
            click.echo(_block(r, fa, min(console.width, 100)) + ("\n" if i < len(rows) - 1 else ""))
        click.echo("hits, FA/h: the test streams at each run's operating point (docs/evaluation.md)")
        if any(r.get("arch", "").endswith("(pretrained)") for r in rows):
            click.echo("+enc: trained from the pretrained encoder (docs/ear.md)")
        return
    t = Table(caption="hits, FA/h: the test streams at each run's operating point (docs/evaluation.md)")
    t.add_column("run", no_wrap=True)
    for c in ("arch", "labels", "float", "int8", "hits quiet", "FA/h quiet", "hits noisy", "FA/h noisy", "model bytes",
              "arena bytes", "data"):
        t.add_column(c)
    for r in rows:
        if "damaged" in r:
            t.add_row(r["run"], f"damaged: {r['damaged']}")
            continue
        t.add_row(r["run"], r["arch"], str(r["labels"]), _pct(r["float"]), _pct(r["int8"]),
                  _pct(r["test_quiet_hit_rate"]), fa(r["test_quiet_fa_per_hour"]), _pct(r["test_noisy_hit_rate"]),
                  fa(r["test_noisy_fa_per_hour"]), f"{r['tflite_bytes']:,}", f"{r['arena_bytes']:,}", r["dataset_hash"])
    console.print(t)


def _block(r: dict, fa, width: int) -> str:
    """A run as a few lines no wider than ``width`` (the layout for narrow terminals and pipes)."""
    import textwrap

    if "damaged" in r:
        return "\n".join(textwrap.wrap(f"{r['run']}  DAMAGED: {r['damaged']}", width, subsequent_indent="  "))
    arch = r["arch"].replace(" (pretrained)", "+enc")  # the block's first line stays within 80 columns
    lines = [f"{r['run']}  {arch}, {r['labels']} labels, data {r['dataset_hash']}",
             f"accuracy float {_pct(r['float'])}, int8 {_pct(r['int8'])}; model {r['tflite_bytes']:,} B, "
             f"arena {r['arena_bytes']:,} B",
             f"test streams: quiet {_pct(r['test_quiet_hit_rate'])} hits, {fa(r['test_quiet_fa_per_hour'])} FA/h; "
             f"noisy {_pct(r['test_noisy_hit_rate'])} hits, {fa(r['test_noisy_fa_per_hour'])} FA/h"]
    out = textwrap.wrap(lines[0], width, subsequent_indent="  ")
    for l in lines[1:]:
        out += textwrap.wrap(l, width, initial_indent="  ", subsequent_indent="    ")
    return "\n".join(out)
