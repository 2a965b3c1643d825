"""``tinykws sim`` as a user starts it (issue 18, rows 1 and 18): its --link never costs a file and never
outlives it, it runs the shipped model when there is no run, and ``--port auto`` finds it."""

import json
import os
import signal
import subprocess
import sys

import pytest


def _env(tmp_path):
    # A registry of running sims of this test's own (`--port auto` must not see another test's sim).
    runtime = tmp_path / "xdg"
    runtime.mkdir(exist_ok=True)
    return {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}


def test_link_onto_an_existing_file_is_refused(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("x\n")
    p = subprocess.run([sys.executable, "-m", "tinykws", "sim", "--runs-dir", str(tmp_path / "none"), "--link",
                        str(precious), "--duration", "3"], capture_output=True, text=True, timeout=300, env=_env(tmp_path))
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith("error: ") and "not a link to a virtual board" in p.stderr
    assert precious.read_text() == "x\n" and not precious.is_symlink()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_shipped_model_port_auto_and_link_removed_on_signal(tmp_path, monkeypatch, sig):
    from tinykws.board import serialio
    from tinykws.board.protocol import Boot
    from tinykws.board.serialio import BoardLink, open_port, resolve_port
    from tinykws.paths import default_model_dir

    env = _env(tmp_path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", env["XDG_RUNTIME_DIR"])
    monkeypatch.setattr(serialio, "list_ports", lambda: [])  # no USB board plugged in
    link = tmp_path / "board"
    os.symlink("/dev/pts/999999", link)  # a dangling link from an earlier sim: ours to replace
    p = subprocess.Popen([sys.executable, "-m", "tinykws", "sim", "--runs-dir", str(tmp_path / "no-runs"), "--link",
                          str(link)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = [p.stdout.readline(), p.stdout.readline()]
        assert "the shipped model" in lines[0], (lines, p.stderr.read() if p.poll() is not None else "")
        port = lines[1].split(" on ")[1].split()[0]
        assert os.readlink(link) == port
        assert resolve_port("auto") == port
        ser = open_port(port)
        try:
            boot = BoardLink(ser).hello(timeout_s=10)
        finally:
            ser.close()
        assert isinstance(boot, Boot)
        assert boot.model == json.loads((default_model_dir() / "model.json").read_text())["model_sha256"]
        p.send_signal(sig)
        assert p.wait(timeout=30) != 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert not os.path.lexists(link)
    assert not list((tmp_path / "xdg").rglob("sim-*.json"))
    with pytest.raises(Exception, match="no `tinykws sim` runs"):
        resolve_port("auto")


def test_port_auto_ignores_a_dead_sims_entry(tmp_path, monkeypatch):
    from tinykws.board import serialio
    from tinykws.board.sim import registry_dir
    from tinykws.errors import UserError

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(serialio, "list_ports", lambda: [])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    registry_dir().mkdir(parents=True)
    (registry_dir() / f"sim-{dead.pid}.json").write_text(json.dumps({"pid": dead.pid, "port": "/dev/ptmx"}))
    with pytest.raises(UserError, match="no `tinykws sim` runs"):
        serialio.resolve_port("auto")
