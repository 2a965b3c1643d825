"""A user's checkout stays clean: demo, export and flash write into runs/ and datasets/, never into tracked files."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs git and a git checkout")
def test_demo_export_flash_leave_git_status_empty(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    # The working tree's versions of the sources (committed or not), so the test checks this code.
    for rel in _git("ls-files", "--cached", "--others", "--exclude-standard", cwd=REPO).split("\n"):
        if rel and (REPO / rel).is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, clone / rel)
    _git("add", "-A", cwd=clone)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "snapshot", cwd=clone)

    # tinykws imported from the clone, so "the checkout" it finds is the clone.
    env = {**os.environ, "PYTHONPATH": str(clone)}

    def tk(*args):
        p = subprocess.run([sys.executable, "-m", "tinykws", *args], cwd=clone, env=env, capture_output=True, text=True,
                           timeout=900)
        assert p.returncode == 0, (args, p.stderr[-2000:])
        return p.stdout

    tk("demo", "--variants", "12", "--epochs", "1")
    out = tk("export", "--board", "nano33ble")
    assert "TINYKWS_MODEL_DIR=" in out
    out = tk("flash", "--board", "nano33ble", "--dry-run")
    assert f"-d {clone} -e nano33ble -t upload" in out
    run = next((clone / "runs").iterdir())
    assert (run / "firmware" / "kws_model.cc").is_file()
    assert _git("status", "--porcelain", cwd=clone) == ""
