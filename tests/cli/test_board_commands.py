"""record / flash / data import options and errors, through the real command line where it matters."""

import subprocess
import sys

import pytest


def tinykws(*args, cwd=None, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "tinykws", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def assert_user_error(p, needle):
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    err = [l for l in p.stderr.strip().splitlines() if l.strip()]
    assert err and err[-1].startswith("error: "), p.stderr
    assert needle in err[-1], err[-1]


@pytest.mark.parametrize("label", ["turn on", "a,b", "x=y", "x" * 33])
def test_record_refuses_a_label_the_protocol_cannot_carry(tmp_path, label):
    p = tinykws("record", "--port", str(tmp_path / "ttyNONE"), "--label", label, "--out", str(tmp_path / "ds"))
    assert_user_error(p, f"--label {label!r}: a label may only use letters, digits")
    assert not (tmp_path / "ds").exists()


def test_build_flags_merge_with_the_users_own():
    from tinykws.board.flash import build_flags, merged_build_flags

    assert build_flags() == []
    assert build_flags(mic_gain=4) == ["-DKWS_MIC_GAIN=4"]
    assert merged_build_flags(["-DKWS_MIC_GAIN=4"], {"PLATFORMIO_BUILD_FLAGS": " -DMINE=1 "}) == "-DMINE=1 -DKWS_MIC_GAIN=4"
    assert merged_build_flags([], {}) is None


def test_flash_passes_mic_gain_to_platformio_and_prints_it(tiny_run, tmp_path, monkeypatch):
    import shutil

    from tinykws.board import flash as fl
    from tinykws.errors import UserError

    run = shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    pio = tmp_path / "pio"
    pio.write_text('#!/bin/sh\necho "flags: $PLATFORMIO_BUILD_FLAGS"\nexit 1\n')  # shows its flags, then fails
    pio.chmod(0o755)
    monkeypatch.setattr(fl, "find_pio", lambda: str(pio))
    monkeypatch.setenv("PLATFORMIO_BUILD_FLAGS", "-DMINE=1")
    lines = []
    res = fl.flash(board="nano33ble", run_path=run, port="/dev/ttyX", dry_run=True, mic_gain=8, say=lines.append)
    shown = [l for l in lines if l.startswith("$ ")]
    assert shown and shown[0].startswith("$ PLATFORMIO_BUILD_FLAGS='-DMINE=1 -DKWS_MIC_GAIN=8' TINYKWS_MODEL_DIR=")
    assert res["build_flags"] == "-DMINE=1 -DKWS_MIC_GAIN=8"
    lines.clear()
    with pytest.raises(UserError, match="upload to /dev/ttyX failed"):
        fl.flash(board="nano33ble", run_path=run, port="/dev/ttyX", mic_gain=8, say=lines.append)
    assert "flags: -DMINE=1 -DKWS_MIC_GAIN=8" in lines


@pytest.mark.parametrize("command", [["flash", "--board", "nano33ble"], ["export"]], ids=["flash", "export"])
def test_there_is_no_engine_to_choose(tmp_path, command):
    # The firmware runs the native engine only: --engine is gone, and click says so before anything runs.
    p = tinykws(*command, "--engine", "tflm", "--runs-dir", str(tmp_path))
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert "No such option '--engine'" in p.stderr, p.stderr
    assert list(tmp_path.iterdir()) == []


def test_flash_dry_run_with_port_auto_prints_a_command_pio_can_run(tiny_run, tmp_path):
    """`auto` is tinykws's word: the printed pio command has no --upload-port then, and says who finds the port."""
    import shutil

    run = shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    p = tinykws("flash", "--board", "nano33ble", "--run", str(run), "--dry-run")  # --port auto is the default
    assert p.returncode == 0, p.stderr
    (shown,) = [l for l in p.stdout.splitlines() if l.startswith("$ ")]
    assert "--upload-port" not in shown and shown.endswith("-e nano33ble -t upload"), shown
    assert "PlatformIO finds the board's port at upload time" in p.stdout
