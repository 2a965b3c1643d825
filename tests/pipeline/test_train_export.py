"""The shared tiny run: report contents, quantization, C array, TFLM agreement, export."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from tinykws.export.carray import parse_c_array
from tinykws.model.quantize import builtin_ops, quantize_input, tflite_io_quantization
from tinykws.run import load_run


def test_run_folder_is_complete(tiny_run):
    for name in ("config.json", "spec.json", "labels.json", "manifest.csv", "model.keras", "model_int8.tflite",
                 "report.json", "report.md", "score_distribution.json", "confusion_int8.png", "confusion_float.png",
                 "training_curves.png", "firmware/kws_model.h", "firmware/kws_model.cc", "firmware/model.json",
                 "firmware/kws_feature_spec.h"):
        assert (tiny_run / name).is_file(), name
    assert (tiny_run / "tensorboard").is_dir()
    assert not list(tiny_run.parent.glob(".*.partial"))


def test_report_has_the_promised_keys(tiny_run):
    r = json.loads((tiny_run / "report.json").read_text())
    for a, b in [("accuracy", "float"), ("accuracy", "int8"), ("accuracy", "per_class"), ("tflm", "top1_agreement"),
                 ("tflm", "max_abs_diff"), ("tflm", "arena_bytes"), ("model", "tflite_bytes"), ("model", "params"),
                 ("model", "macs"), ("data", "counts"), ("data", "dataset_hash")]:
        assert b in r[a], (a, b)
    for k in ("features_s", "training_s", "conversion_s"):
        assert r["timing"][k] >= 0
    # The labels live in one place, in model output order (labels.json says the same).
    assert "labels" not in r and r["data"]["labels"] == ["up", "down", "_unknown_", "_silence_"]
    assert json.loads((tiny_run / "labels.json").read_text()) == r["data"]["labels"]
    # The tone words are easy: a model that learnt nothing would sit near 25 %.
    assert r["accuracy"]["int8"] > 0.6


def test_model_is_full_int8(tiny_run):
    tfl = (tiny_run / "model_int8.tflite").read_bytes()
    q = tflite_io_quantization(tfl)
    assert q["input_dtype"] == "int8" and q["output_dtype"] == "int8"
    assert q["input_shape"] == [1, 49, 10]
    ops = builtin_ops(tfl)
    assert "CONV_2D" in ops and "DEPTHWISE_CONV_2D" in ops and "SOFTMAX" in ops
    assert not {"SHAPE", "STRIDED_SLICE", "PACK", "DEQUANTIZE"} & set(ops)


def test_c_array_parses_back_to_the_tflite(tiny_run):
    tfl = (tiny_run / "model_int8.tflite").read_bytes()
    src = (tiny_run / "firmware" / "kws_model.cc").read_text()
    assert "alignas(16)" in src
    assert parse_c_array(src) == tfl
    hdr = (tiny_run / "firmware" / "kws_model.h").read_text()
    import hashlib

    assert f'#define KWS_MODEL_HASH "{hashlib.sha256(tfl).hexdigest()}"' in hdr
    assert re.search(r"#define KWS_MODEL_OPS\(X\) (X\(\w+\) ?)+", hdr)
    info = json.loads((tiny_run / "firmware" / "model.json").read_text())
    assert f"#define KWS_MODEL_ARENA_BYTES {info['arena_bytes']}" in hdr
    assert info["arena_bytes"] % 16 == 0 and info["arena_bytes"] > info["arena_min_bytes"]
    assert f"#define KWS_MODEL_NUM_LABELS {len(info['labels'])}" in hdr


def test_header_compiles_with_the_host_compiler(tiny_run, tmp_path):
    import shutil
    import subprocess

    cxx = shutil.which("g++") or shutil.which("c++")
    if not cxx:
        pytest.skip("no C++ compiler")
    main = tmp_path / "m.cc"
    main.write_text('#include "kws_model.h"\n#include <cstdio>\n#define P(n) std::printf(#n "\\n");\n'
                    'int main(){ KWS_MODEL_OPS(P) std::printf("%u %s\\n", kws_model_len, kws_model_labels[0]); '
                    'return ((uintptr_t)kws_model_data % 16) != 0; }\n')
    exe = tmp_path / "m"
    subprocess.run([cxx, "-std=gnu++14", "-I", str(tiny_run / "firmware"), str(main), str(tiny_run / "firmware" / "kws_model.cc"), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    tfl = (tiny_run / "model_int8.tflite").read_bytes()
    assert out[-2:] == [str(len(tfl)), "up"]
    assert "Conv2D" in out


def test_tflm_runs_in_the_exported_arena_and_agrees(tiny_run):
    from tinykws.boardcode.tflm import TflmModel

    run = load_run(tiny_run)
    m = TflmModel(run.tflite_bytes, run.arena_bytes)
    rng = np.random.default_rng(0)
    x = quantize_input(rng.normal(-20, 60, (8, 49, 10)), m.input_scale, m.input_zero_point)
    q = m.predict(x)
    assert q.shape == (8, 4) and q.dtype == np.int8
    # tf.lite on the very same inputs, here, not the figures the report under test wrote.
    from tinykws.model.quantize import tflite_predict

    ref = tflite_predict(run.tflite_bytes, x)
    np.testing.assert_array_equal(q.argmax(1), ref.argmax(1))
    assert np.abs(q.astype(int) - ref.astype(int)).max() <= 1


def test_arena_search_finds_the_boundary(tiny_run):
    from tinykws.errors import UserError
    from tinykws.boardcode.tflm import TflmModel, find_min_arena

    tfl = (tiny_run / "model_int8.tflite").read_bytes()
    n = find_min_arena(tfl)
    TflmModel(tfl, n)  # works at the minimum
    assert n == load_run(tiny_run).report["tflm"]["arena_bytes"]
    # ... and 16 bytes less does not (in a child process: TFLM may abort instead of raising).
    child = ("import sys\nfrom tinykws.boardcode.tflm import TflmModel\n"
             "data = open(sys.argv[1], 'rb').read()\n"
             "try:\n    TflmModel(data, int(sys.argv[2]))\nexcept Exception:\n    sys.exit(3)\nprint('allocated')\n")
    for size, allocates in ((n - 16, False), (n, True)):
        p = subprocess.run([sys.executable, "-c", child, str(tiny_run / "model_int8.tflite"), str(size)],
                           capture_output=True, text=True, timeout=120)
        assert ("allocated" in p.stdout) == allocates, (size, p.returncode, p.stderr[-300:])


def test_quantize_input_rounds_half_to_even_and_saturates():
    x = np.array([0.5, 1.5, 2.5, -0.5, 1000.0, -1000.0], np.float32)
    assert quantize_input(x, 1.0, 0).tolist() == [0, 2, 2, 0, 127, -128]
    assert quantize_input(np.array([3.0]), 2.0, -5).tolist() == [-3]


def test_export_writes_the_model_folder_into_the_run(tiny_run, tmp_path):
    import shutil

    from tinykws.export import MODEL_FILES, export_run
    from tinykws.spec import FeatureSpec

    run = shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    shutil.rmtree(run / "firmware")
    res = export_run(run)
    assert res.model_dir == run / "firmware"
    assert sorted(p.name for p in res.paths) == sorted(MODEL_FILES)
    assert parse_c_array((run / "firmware" / "kws_model.cc").read_text()) == (run / "model_int8.tflite").read_bytes()
    assert FeatureSpec().sha256 in (run / "firmware" / "kws_feature_spec.h").read_text()


def test_export_into_a_firmware_tree_of_your_own(tiny_run, tmp_path):
    from tinykws.export import export_run
    from tinykws.errors import UserError

    fw = tmp_path / "fw"
    fw.mkdir()
    res = export_run(tiny_run, fw)
    assert res.model_dir == fw / "model"
    assert parse_c_array((fw / "model" / "kws_model.cc").read_text()) == (tiny_run / "model_int8.tflite").read_bytes()
    with pytest.raises(UserError, match="firmware folder not found"):
        export_run(tiny_run, tmp_path / "nowhere")


def test_score_distribution_is_kept(tiny_run):
    d = json.loads((tiny_run / "score_distribution.json").read_text())
    assert set(d["per_class"]) == {"up", "down", "_unknown_", "_silence_"}
    assert all(0 <= s <= 1 for s in d["all"]) and len(d["all"]) == load_run(tiny_run).report["n_test"]


def test_training_is_reproducible(tone_dataset, tmp_path):
    """Same seed, same data: identical losses, weights and int8 outputs on TFLM.

    (The .tflite bytes themselves may differ: the converter's serialisation order is not stable.)
    """
    from tinykws.boardcode.tflm import TflmModel
    from tinykws.pipeline import TrainConfig, train

    runs = []
    for i in range(2):
        cfg = TrainConfig(dataset=str(tone_dataset), words=["up", "down"], arch="tiny-conv", epochs=3, batch_size=16, seed=3,
                          stream_minutes=0.5, teacher=False)
        runs.append(load_run(train(cfg, tmp_path / str(i), progress=False)))
    a, b = runs
    assert a.report["training"]["history"] == b.report["training"]["history"]
    assert all(np.array_equal(p, q) for p, q in zip(a.keras_model().get_weights(), b.keras_model().get_weights()))
    x = np.random.default_rng(0).integers(-128, 128, (20, 49, 10)).astype(np.int8)
    assert np.array_equal(TflmModel(a.tflite_bytes).predict(x), TflmModel(b.tflite_bytes).predict(x))


def test_extra_training_data_joins_train_split_only(tone_dataset, tmp_path):
    import csv
    import shutil

    from tinykws.pipeline import TrainConfig, train

    extra = tmp_path / "extra"
    shutil.copytree(tone_dataset / "up", extra / "up")
    cfg = TrainConfig(dataset=str(tone_dataset), words=["up", "down"], arch="tiny-conv", epochs=1, extra_train_dirs=[str(extra)],
                      stream_minutes=0.5, teacher=False)
    run = train(cfg, tmp_path / "runs", progress=False)
    rows = list(csv.DictReader(open(run / "manifest.csv")))
    added = [r for r in rows if r["path"].startswith("extra/")]
    assert len(added) == len(list((extra / "up").glob("*.wav")))
    assert {r["split"] for r in added} == {"train"}
    base = json.loads((run / "report.json").read_text())["data"]["dataset_hash"]
    from tinykws.data.dataset import discover

    assert base != discover(tone_dataset, ["up", "down"]).hash
