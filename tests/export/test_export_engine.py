"""`tinykws export --board B`: memory fit for the native engine (the firmware's only one), the speed estimate,
refusal when too slow or when the native engine cannot run the model."""

import json
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from tinykws.errors import UserError
from tinykws.export import boards, export_run


def test_native_export_reports_its_own_ram(tiny_run, tmp_path):
    fw = tmp_path / "fw"
    fw.mkdir()
    res = export_run(tiny_run, fw, board="nano33ble")
    text = "\n".join(res.fit_lines)
    assert "native engine RAM " in text and "RAM: native engine " in text and "for the native engine]" in text
    assert "TFLM arena" not in text and "tflm" not in text
    from tinykws.run import load_run

    stride = load_run(tiny_run).recognizer.stride_ms  # the run's operating point
    speed = [l for l in res.fit_lines if l.startswith("speed")]
    assert len(speed) == 1 and speed[0].startswith("speed: nano33ble, native: features ") and f"per {stride} ms stride" in speed[0]
    energy = [l for l in res.fit_lines if l.startswith("energy: ")]
    assert len(energy) == 1 and " mW (" in energy[0] and "days on a 1000 mAh cell" in energy[0]


def test_too_slow_is_refused_before_anything_is_written(tiny_run, tmp_path, monkeypatch):
    nano = boards.BOARDS["nano33ble"]
    monkeypatch.setitem(boards.BOARDS, "nano33ble", replace(nano, cpu=replace(nano.cpu, clock_hz=200_000)))
    fw = tmp_path / "fw"
    fw.mkdir()
    with pytest.raises(UserError, match=r"^(stride \d+ ms needs ≥ \d+ ms on|nano33ble with native cannot keep up)"):
        export_run(tiny_run, fw, board="nano33ble")
    assert not any(fw.iterdir())


def test_cli_names_the_native_engine_and_no_build_flags(tiny_run, tmp_path):
    run = shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    p = subprocess.run([sys.executable, "-m", "tinykws", "export", str(run), "--board", "esp32dev"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "speed: esp32dev, native: " in p.stdout and "fits esp32dev with the native engine." in p.stdout
    assert "energy: " in p.stdout and " mW (" in p.stdout
    assert "PLATFORMIO_BUILD_FLAGS" not in p.stdout and ", tflm: " not in p.stdout
    assert f"  TINYKWS_MODEL_DIR={run / 'firmware'} pio run -d " in p.stdout


def test_models_are_quantized_with_one_scale_per_dense_layer(tiny_run):
    # The QEMU comparator's TFLM library reads only the first scale of a per-channel FULLY_CONNECTED layer.
    from tinykws.boardcode.tflm_cross import per_channel_fully_connected

    assert per_channel_fully_connected((tiny_run / "model_int8.tflite").read_bytes()) == []


def max_pool_run(run_dir, dest):
    """A copy of the run whose .tflite has a MAX_POOL_2D layer, which the native engine does not run."""
    import keras
    import numpy as np

    from tinykws.model.quantize import convert_int8

    model = keras.models.load_model(run_dir / "model.keras", compile=False)
    keras.utils.set_random_seed(0)
    L = keras.layers
    x_in = keras.Input(shape=model.input_shape[1:])
    x = L.Reshape((*model.input_shape[1:], 1))(x_in)
    x = L.Conv2D(4, (3, 3), activation="relu")(x)
    x = L.MaxPooling2D((2, 2))(x)
    x = L.Flatten()(x)
    other = keras.Model(x_in, L.Dense(model.output_shape[-1], activation="softmax")(x))
    sample = np.random.default_rng(0).normal(0, 50, (16, *model.input_shape[1:])).astype(np.float32)
    run = shutil.copytree(run_dir, dest)
    tflite = convert_int8(other, sample)
    (run / "model_int8.tflite").write_bytes(tflite)
    # A run trained that way, not a tampered one: its report records this model.
    import hashlib
    import json

    report = json.loads((run / "report.json").read_text())
    report["model"].update(tflite_bytes=len(tflite), sha256=hashlib.sha256(tflite).hexdigest())
    (run / "report.json").write_text(json.dumps(report))
    shutil.rmtree(run / "firmware", ignore_errors=True)
    return run


def test_export_refuses_a_model_the_native_engine_cannot_run(tiny_run, tmp_path):
    run = max_pool_run(tiny_run, tmp_path / tiny_run.name)
    p = subprocess.run([sys.executable, "-m", "tinykws", "export", str(run)], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    err = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(err) == 1 and err[0].startswith("error: the native engine does not support op MAX_POOL_2D"), err
    assert "--engine" not in err[0]
    assert not (run / "firmware").exists()  # nothing written
