"""Run folders: where one training run keeps everything it made.

``runs/<YYYYmmdd-HHMMSS>-<name>/`` holds ``config.json``, ``spec.json``,
``labels.json``, ``manifest.csv``, ``model.keras``, ``model_int8.tflite``,
``report.json``, ``report.md``, ``score_distribution.json``, the model folder
the firmware compiles (``firmware/``: ``kws_model.h``, ``kws_model.cc``,
``model.json``, ``kws_feature_spec.h``), plots, and TensorBoard logs under
``tensorboard/``. :func:`load_run` reads one back and is the one check of a run
folder every command goes through (export, flash, sim, evaluate, report, runs): the
files are there, they are the files ``report.json`` recorded (model hash and size, spec
hash, labels) and its numbers have the right types; anything else is one
:class:`UserError` naming the file. :func:`update_report` is the one way later stages
(threshold tuning) amend it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tinykws.errors import UserError
from tinykws.io import atomic_write_text, sha256_bytes, sha256_file
from tinykws.recognizer import RecognizerConfig
from tinykws.spec import FeatureSpec

DEFAULT_RUNS_DIR = Path("runs")

#: ``report.json`` entries later stages read (export, streaming evaluation, the board link);
#: :func:`load_run` refuses a run that lacks one instead of failing later with a ``KeyError``.
REQUIRED_REPORT_KEYS = ("tflm.arena_bytes", "model.output_scale", "model.output_zero_point")


def _lookup(d, dotted: str):
    for k in dotted.split("."):
        if not isinstance(d, dict) or k not in d:
            raise KeyError(dotted)
        d = d[k]
    return d


@dataclass
class Run:
    path: Path
    spec: FeatureSpec
    labels: list[str]
    tflite_bytes: bytes
    report: dict
    config: dict
    recognizer: RecognizerConfig

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model_sha256(self) -> str:
        return sha256_bytes(self.tflite_bytes)

    @property
    def model_dir(self) -> Path:
        """The folder ``tinykws export`` writes and PlatformIO compiles the model from."""
        return model_dir(self.path)

    @property
    def arena_bytes(self) -> int:
        tflm = self.report.get("tflm") or {}
        return int(tflm.get("arena_bytes_with_margin") or self.report_value("tflm.arena_bytes"))

    def report_value(self, dotted: str):
        """``report["a"]["b"]`` for ``"a.b"``; a one-line :class:`UserError` naming the key if it is missing."""
        try:
            return _lookup(self.report, dotted)
        except KeyError:
            raise UserError(f"{self.path}/report.json has no {dotted} (an incomplete run, or made by another "
                            "tinykws version): train it again") from None

    def keras_model(self):
        import keras

        p = self.path / "model.keras"
        if not p.is_file():
            raise UserError(f"{self.path}: model.keras is missing")
        try:
            return keras.models.load_model(p, compile=False)
        except Exception:  # a damaged archive is a ValueError, OSError or zipfile error, depending on where it breaks
            raise UserError(f"{p} cannot be read as a Keras model (damaged or truncated): train the run again") from None


def load_run(path: str | Path) -> Run:
    """Read a run folder; :class:`UserError` if it is not one or is incomplete."""
    p = Path(path)
    if not p.is_dir():
        raise UserError(f"run not found: {p}")
    need = ["spec.json", "labels.json", "model_int8.tflite", "report.json"]
    missing = [n for n in need if not (p / n).is_file()]
    if missing:
        raise UserError(f"{p} is not a complete run (missing {', '.join(missing)})")
    try:
        labels = json.loads((p / "labels.json").read_text())
        report = json.loads((p / "report.json").read_text())
        config = json.loads((p / "config.json").read_text()) if (p / "config.json").is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{p}: damaged run file ({e})") from None
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise UserError(f"{p}/labels.json must hold a list of label names")
    if not isinstance(report, dict):
        raise UserError(f"{p}/report.json must hold a JSON object")
    if not isinstance(config, dict):
        raise UserError(f"{p}/config.json must hold a JSON object")
    missing = [k for k in REQUIRED_REPORT_KEYS if not _has(report, k)]
    if missing:
        raise UserError(f"{p}/report.json has no {', '.join(missing)} (an incomplete run, or made by another "
                        "tinykws version): train it again")
    spec = FeatureSpec.load(p / "spec.json")
    tflite = (p / "model_int8.tflite").read_bytes()
    check_recorded(p, report, tflite=tflite, spec=spec, labels=labels)
    section = report.get("recognizer") or {}
    try:
        if not isinstance(section, dict):
            raise TypeError("not an object")
        rec = RecognizerConfig.from_dict(section)
        rec.validate(spec.hop_ms)
    except (TypeError, ValueError) as e:
        raise UserError(f"{p}/report.json: unusable recognizer settings ({e})") from None
    return Run(p, spec, labels, tflite, report, config, rec)


#: ``report.json`` numbers the later stages compute with, and the type each must have (checked where present).
REPORT_NUMBERS = {"tflm.arena_bytes": int, "tflm.arena_bytes_with_margin": int, "model.tflite_bytes": int,
                  "model.input_scale": float, "model.input_zero_point": int, "model.output_scale": float,
                  "model.output_zero_point": int}


def check_recorded(p: Path, report: dict, *, tflite: bytes, spec: FeatureSpec, labels: list[str]) -> None:
    """:class:`UserError` unless the run's files are the ones ``report.json`` recorded and its numbers are numbers.

    Only what the report holds is compared (a run made by an older tinykws may lack a hash).
    """
    for dotted, kind in REPORT_NUMBERS.items():
        if not _has(report, dotted):
            continue
        v = _lookup(report, dotted)
        ok = isinstance(v, int) if kind is int else isinstance(v, (int, float))
        if isinstance(v, bool) or not ok:
            raise UserError(f"{p}/report.json: {dotted} must be {'an integer' if kind is int else 'a number'}, "
                            f"not {json.dumps(v)[:40]} (the file was edited or damaged): train the run again")
    model = report.get("model") if isinstance(report.get("model"), dict) else {}
    size = model.get("tflite_bytes")
    if size is not None and size != len(tflite):
        raise UserError(f"{p}/model_int8.tflite is {len(tflite):,} bytes, report.json recorded {size:,} "
                        "(truncated or replaced): train the run again")
    sha = model.get("sha256")
    if sha is not None and sha != sha256_bytes(tflite):
        raise UserError(f"{p}/model_int8.tflite is not the model report.json recorded (sha256 "
                        f"{sha256_bytes(tflite)[:12]}, recorded {str(sha)[:12]}): the file was changed; train the run again")
    keras_sha = model.get("keras_sha256")
    if keras_sha is not None and (p / "model.keras").is_file() and keras_sha != sha256_file(p / "model.keras"):
        raise UserError(f"{p}/model.keras is not the model report.json recorded: the file was changed; train the run again")
    spec_sha = (report.get("spec") or {}).get("sha256") if isinstance(report.get("spec"), dict) else None
    if spec_sha is not None and spec_sha != spec.sha256:
        raise UserError(f"{p}/spec.json is not the feature spec report.json recorded (sha256 {spec.sha256[:12]}, "
                        f"recorded {str(spec_sha)[:12]}): the file was changed; train the run again")
    data = report.get("data") if isinstance(report.get("data"), dict) else {}
    if data.get("labels") is not None and data["labels"] != labels:
        raise UserError(f"{p}/labels.json ({','.join(labels)}) is not what report.json recorded "
                        f"({','.join(map(str, data['labels'])) if isinstance(data['labels'], list) else data['labels']}): "
                        "the file was changed; train the run again")


def _has(d, dotted: str) -> bool:
    try:
        _lookup(d, dotted)
        return True
    except KeyError:
        return False


def model_dir(run_path: str | Path) -> Path:
    """``<run>/firmware``: the model as the firmware compiles it (see :mod:`tinykws.export`)."""
    return Path(run_path) / "firmware"


def update_report(run_path: str | Path, **sections) -> dict:
    """Replace top-level sections of a run's ``report.json`` (atomically); returns the new report.

    A section given as a dict is merged into the existing one, anything else replaces it.
    """
    p = Path(run_path) / "report.json"
    report = json.loads(p.read_text())
    for k, v in sections.items():
        report[k] = {**report.get(k, {}), **v} if isinstance(v, dict) and isinstance(report.get(k), dict) else v
    atomic_write_text(p, json.dumps(report, indent=2) + "\n")
    return report


def list_runs(runs_dir: str | Path = DEFAULT_RUNS_DIR) -> list[Path]:
    d = Path(runs_dir)
    if not d.is_dir():
        return []
    return sorted(x for x in d.iterdir() if x.is_dir() and (x / "report.json").is_file())


def latest_run(runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path:
    runs = list_runs(runs_dir)
    if not runs:
        raise UserError(f"no runs in {runs_dir}/: train one with `tinykws train DATASET` or `tinykws demo`")
    return runs[-1]


def resolve_run(run: str | Path | None, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path:
    """A run given by path, by name inside ``runs_dir``, or the latest when ``None``."""
    if run is None:
        return latest_run(runs_dir)
    p = Path(run)
    if p.is_dir():
        return p
    q = Path(runs_dir) / str(run)
    if q.is_dir():
        return q
    raise UserError(f"run not found: {run}")


def replace_report_sections(run_path: str | Path, **sections) -> dict:
    """Set top-level sections of a run's ``report.json`` whole (atomically), dropping their older keys; returns it.

    For sections whose older keys must not survive (``streaming`` of a run made before
    ``docs/evaluation.md`` v1 holds keys that mean something else).
    """
    p = Path(run_path) / "report.json"
    report = json.loads(p.read_text())
    report.update(sections)
    atomic_write_text(p, json.dumps(report, indent=2) + "\n")
    return report


def streaming_summary(report: dict) -> dict | None:
    """The run's ``streaming`` section if it follows ``docs/evaluation.md`` (has an operating point), else ``None``.

    Runs made before the protocol hold other keys there (``false_accepts_per_hour``, ``chosen``);
    readers show them as "not measured" and ``tinykws evaluate RUN --streaming`` measures them.
    """
    s = report.get("streaming")
    if isinstance(s, dict) and isinstance(s.get("operating_point"), dict) and isinstance(s.get("test"), dict):
        return s
    return None


def shipped_run() -> Run:
    """The shipped default model (``firmware/model``) as a :class:`Run`, for the virtual board without a trained run.

    Built from the model folder alone: the flatbuffer from ``kws_model.cc``, labels, quantization,
    arena and recognizer from ``model.json``; the folder's manifest is checked first.
    """
    from tinykws.export import verify_model_dir
    from tinykws.export.carray import parse_c_array
    from tinykws.paths import default_model_dir

    d = default_model_dir()
    verify_model_dir(d)
    try:
        info = json.loads((d / "model.json").read_text())
        tflite = parse_c_array((d / "kws_model.cc").read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"the shipped model in {d} cannot be read ({e}): reinstall tinykws") from None
    spec = FeatureSpec()
    if info.get("model_sha256") != sha256_bytes(tflite) or info.get("spec_sha256") != spec.sha256:
        raise UserError(f"the shipped model in {d} does not match its model.json (or this tinykws's feature spec): "
                        "reinstall tinykws, or pass --run with a run of your own")
    try:
        report = {"run": info.get("name", "shipped"),
                  "model": {"sha256": info["model_sha256"], "tflite_bytes": len(tflite),
                            **{k: info[k] for k in ("input_scale", "input_zero_point", "output_scale", "output_zero_point")}},
                  "tflm": {"arena_bytes": info["arena_min_bytes"], "arena_bytes_with_margin": info["arena_bytes"]},
                  "spec": {"sha256": spec.sha256}, "recognizer": info["recognizer"]}
        rec = RecognizerConfig.from_dict(info["recognizer"])
        labels = list(info["labels"])
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"the shipped model's {d}/model.json is incomplete ({e}): reinstall tinykws") from None
    check_recorded(d, report, tflite=tflite, spec=spec, labels=labels)
    return Run(d, spec, labels, tflite, report, {}, rec)


def sim_run(run: str | Path | None, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Run:
    """The run a virtual board runs: ``run`` if given, else the latest in ``runs_dir``, else :func:`shipped_run`."""
    if run is not None or list_runs(runs_dir):
        return load_run(resolve_run(run, runs_dir))
    return shipped_run()
