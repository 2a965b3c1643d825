"""`tinykws export --board B --engine E`: memory fit for that engine, the speed estimate, refusal when too slow."""

import json
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from tinykws.errors import UserError
from tinykws.export import boards, export_run
from tinykws.target.tflm import cmsis_nn_scratch


def test_tflm_export_reports_arena_kernels_and_speed(tiny_run, tmp_path):
    fw = tmp_path / "fw"
    fw.mkdir()
    res = export_run(tiny_run, fw, board="esp32dev", engine="tflm")
    text = "\n".join(res.fit_lines)
    info = json.loads((fw / "model" / "model.json").read_text())
    # The compiled-in arena is the host minimum plus CMSIS-NN's scratch plus the margin, and says so.
    assert f"TFLM arena {info['arena_bytes']:,} B: host minimum {info['arena_min_bytes']:,} B with reference kernels" in text
    assert info["arena_bytes"] >= info["arena_min_bytes"] + cmsis_nn_scratch((tiny_run / "model_int8.tflite").read_bytes()).bytes
    assert f"RAM: arena {info['arena_bytes']:,} of" in text
    # Speed for the chosen engine first, then the other one.
    speed = [l for l in res.fit_lines if l.startswith("speed")]
    from tinykws.run import load_run

    stride = load_run(tiny_run).recognizer.stride_ms  # the run's operating point
    assert speed[0].startswith("speed (chosen): esp32dev, tflm: features ") and f"per {stride} ms stride" in speed[0]
    assert speed[1].startswith("speed: esp32dev, native: ")


def test_native_export_reports_its_own_ram(tiny_run, tmp_path):
    fw = tmp_path / "fw"
    fw.mkdir()
    res = export_run(tiny_run, fw, board="nano33ble")  # the default engine
    text = "\n".join(res.fit_lines)
    assert "native engine RAM " in text and "RAM: native engine " in text and "for the native engine]" in text
    assert "TFLM arena" not in text
    assert [l for l in res.fit_lines if l.startswith("speed")][0].startswith("speed (chosen): nano33ble, native: ")


def test_too_slow_is_refused_before_anything_is_written(tiny_run, tmp_path, monkeypatch):
    nano = boards.BOARDS["nano33ble"]
    monkeypatch.setitem(boards.BOARDS, "nano33ble", replace(nano, cpu=replace(nano.cpu, clock_hz=20_000_000)))
    fw = tmp_path / "fw"
    fw.mkdir()
    with pytest.raises(UserError, match=r"^stride \d+ ms needs ≥ \d+ ms on nano33ble with tflm \(features .*"
                                        r"use the native engine \(`tinykws flash --engine native`, the default\) or train a smaller model .*$"):
        export_run(tiny_run, fw, board="nano33ble", engine="tflm")
    assert not any(fw.iterdir())
    with pytest.raises(UserError, match="unknown engine 'cmsis'; choose one of native, tflm"):
        export_run(tiny_run, fw, board="nano33ble", engine="cmsis")
    assert not any(fw.iterdir())


def test_cli_engine_option_and_one_line_refusal(tiny_run, tmp_path):
    run = shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    p = subprocess.run([sys.executable, "-m", "tinykws", "export", str(run), "--board", "esp32dev", "--engine", "tflm"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "speed (chosen): esp32dev, tflm: " in p.stdout and "fits esp32dev with the tflm engine." in p.stdout
    assert "PLATFORMIO_BUILD_FLAGS=-DKWS_ENGINE_TFLM TINYKWS_MODEL_DIR=" in p.stdout
    # The hop as the stride: no board computes features and a TFLM inference in 12 ms.
    report = json.loads((run / "report.json").read_text())
    report["recognizer"]["stride_ms"] = 20
    report["recognizer"]["average_window_ms"] = 500
    (run / "report.json").write_text(json.dumps(report))
    shutil.rmtree(run / "firmware")
    p = subprocess.run([sys.executable, "-m", "tinykws", "export", str(run), "--board", "nano33ble", "--engine", "tflm"],
                       capture_output=True, text=True)
    assert p.returncode == 2
    err = [l for l in p.stderr.splitlines() if l.startswith("error:")]
    assert len(err) == 1 and err[0].startswith("error: stride 20 ms needs ≥ ") and "on nano33ble with tflm" in err[0]
    assert not (run / "firmware").exists()


def test_models_are_quantized_with_one_scale_per_dense_layer(tiny_run):
    # The pinned TFLM library reads only the first scale of a per-channel FULLY_CONNECTED layer.
    from tinykws.target.tflm import pinned_tflm_faults

    assert pinned_tflm_faults((tiny_run / "model_int8.tflite").read_bytes()) == []


def per_channel_dense_tflite(run_dir) -> bytes:
    """The run's Keras model converted as TFLite converts by default: dense layers per channel."""
    import keras
    import numpy as np
    import tensorflow as tf

    from tinykws.model.quantize import _converter, _quiet_convert

    model = keras.models.load_model(run_dir / "model.keras", compile=False)
    x = np.random.default_rng(0).normal(0, 50, (32, *model.input_shape[1:])).astype(np.float32)
    conv = _converter(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([v[None]] for v in x)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return _quiet_convert(conv)


def test_tflm_export_refuses_a_model_the_pinned_tflm_would_get_wrong(tiny_run, tmp_path):
    old = per_channel_dense_tflite(tiny_run)
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "model_int8.tflite").write_bytes(old)
    fw = tmp_path / "fw"
    fw.mkdir()
    with pytest.raises(UserError, match=r"FULLY_CONNECTED \(operator \d+\) has per-channel weights \(4 scales\).*native engine"):
        export_run(run, fw, engine="tflm")
    assert not (fw / "model").exists()
    export_run(run, fw, engine="native")  # the native engine computes it as the laptop does
