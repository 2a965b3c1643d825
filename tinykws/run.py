"""Run folders: where one training run keeps everything it made.

``runs/<YYYYmmdd-HHMMSS>-<name>/`` holds ``config.json``, ``spec.json``,
``labels.json``, ``manifest.csv``, ``model.keras``, ``model_int8.tflite``,
``report.json``, ``report.md``, ``score_distribution.json``, the model folder
the firmware compiles (``firmware/``: ``kws_model.h``, ``kws_model.cc``,
``model.json``, ``kws_feature_spec.h``), plots, and TensorBoard logs under
``tensorboard/``. :func:`load_run` reads one back and checks it is complete;
:func:`update_report` is the one way later stages (threshold tuning) amend it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tinykws.errors import UserError
from tinykws.io import atomic_write_text, sha256_bytes
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
        return keras.models.load_model(p, compile=False)


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
    section = report.get("recognizer") or {}
    try:
        if not isinstance(section, dict):
            raise TypeError("not an object")
        rec = RecognizerConfig.from_dict(section)
        rec.validate(spec.hop_ms)
    except (TypeError, ValueError) as e:
        raise UserError(f"{p}/report.json: unusable recognizer settings ({e})") from None
    return Run(p, spec, labels, (p / "model_int8.tflite").read_bytes(), report, config, rec)


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
