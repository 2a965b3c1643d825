"""`tinykws flash` end to end through the CLI: a recorded PlatformIO upload, then a board whose BOOT
line carries everything a real board's does (engine, weights CRC, spec, labels, sample rate).

The virtual board runs the native engine and reports its weights' CRC as a native build does; a
scripted board answers with the run's own identity with one field changed, and each change must be
refused in one `error:` line with a non-zero exit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.board.fakeboard import FakeBoard


@pytest.fixture()
def flash_run(tiny_run, tmp_path):
    return shutil.copytree(tiny_run, tmp_path / tiny_run.name)


@pytest.fixture()
def fake_pio(tmp_path):
    """A stand-in for PlatformIO that records its arguments and model folder, as an upload would run."""
    rec = tmp_path / "pio_calls.txt"
    pio = tmp_path / "pio"
    pio.write_text(f"#!/bin/sh\necho \"$@\" \"model=$TINYKWS_MODEL_DIR\" >> {rec}\necho uploading\nexit 0\n")
    pio.chmod(0o755)
    return pio, rec


def _flash_cli(run, port, pio, *extra):
    env = {**os.environ, "TINYKWS_PIO": str(pio)}
    return subprocess.run([sys.executable, "-m", "tinykws", "flash", "--board", "nano33ble", "--run", str(run),
                           "--port", port, *extra], capture_output=True, text=True, env=env, timeout=300)


def _one_error_line(p):
    assert p.returncode != 0, p.stdout + p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    errs = [l for l in p.stderr.splitlines() if l.startswith("error:")]
    assert len(errs) == 1, p.stderr
    return errs[0]


def test_flash_cli_passes_on_the_virtual_board_with_the_native_crc(flash_run, fake_pio, tmp_path):
    from tinykws.board.flash import wait_for_boot
    from tinykws.board.sim import open_sim

    pio, rec = fake_pio
    wav = tmp_path / "quiet.wav"
    sf.write(wav, np.zeros(16000, np.int16), 16000, subtype="PCM_16")
    with open_sim(flash_run, [wav], realtime=True) as board:
        assert board.engine_name == "native"
        board.start()
        boot = wait_for_boot(board.port, 10)
        p = _flash_cli(flash_run, board.port, pio)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "matches run" in p.stdout.splitlines()[-1]
    # The board said which engine and which weights, and they are the export's.
    native = json.loads((flash_run / "firmware" / "model.json").read_text())["native"]
    assert boot.engine == "native" and boot.weights_crc == int(native["weights_crc32"], 16)
    calls = rec.read_text().splitlines()
    assert len(calls) == 1 and calls[0].startswith("run -d ") and f"--upload-port {board.port}" in calls[0]
    assert calls[0].endswith(f"model={(flash_run / 'firmware').resolve()}")


def _identity_line(run_path) -> dict[str, str]:
    from tinykws.run import load_run

    run = load_run(run_path)
    native = json.loads((run_path / "firmware" / "model.json").read_text())["native"] \
        if (run_path / "firmware" / "model.json").exists() else None
    return {"proto": "1", "board": "nano33ble", "fw": "0.1.0", "model": run.model_sha256, "spec": run.spec.sha256,
            "labels": ",".join(run.labels), "arena_used": "1000", "arena_size": "2000", "mic": "pdm",
            "sr": str(run.spec.sample_rate), "status": "ok", "engine": "native",
            "weights_crc": native["weights_crc32"] if native else None}


@pytest.mark.parametrize("field,value,message", [
    ("weights_crc", "00000001", "weights CRC is 00000001"),
    ("spec", "cd" * 32, "features of spec cdcdcdcdcdcd"),
    ("labels", "down,up,_unknown_,_silence_", "the board's labels are down,up"),
    ("sr", "8000", "samples at 8000 Hz"),
    ("engine", "tflm", "runs the tflm engine"),
    ("model", "ef" * 32, "runs model efefefefefef"),
    (None, None, None),
])
def test_flash_cli_refuses_each_identity_mismatch_in_one_line(flash_run, fake_pio, field, value, message):
    pio, rec = fake_pio
    from tinykws.export import export_run

    export_run(flash_run, board="nano33ble")  # first, so the CRC a right board reports is known
    ident = _identity_line(flash_run)
    if field is not None:
        ident[field] = value
    line = "BOOT " + " ".join(f"{k}={v}" for k, v in ident.items() if v is not None)
    with FakeBoard(boot=line) as board:
        p = _flash_cli(flash_run, board.port, pio)
    if field is None:  # the unchanged identity passes: the refusals above are each one field's doing
        assert p.returncode == 0, p.stdout + p.stderr
        assert "matches run" in p.stdout
        return
    assert message in _one_error_line(p)
    assert len(rec.read_text().splitlines()) == 1  # it was uploaded, then refused on what the board said
