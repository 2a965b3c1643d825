"""Writes that must not be left half done: the model folder as a set, the .tflite, the dataset download.
Each test interrupts a write midway and checks the old state is intact (or the new one complete)."""

import hashlib
import json
import os
import types
from pathlib import Path

import pytest

from tinykws.errors import UserError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_inputs():
    """What write_model_dir needs, from the shipped default model (no training)."""
    from tinykws.export.carray import parse_c_array
    from tinykws.recognizer import RecognizerConfig
    from tinykws.spec import FeatureSpec

    fw = REPO / "firmware" / "model"
    info = json.loads((fw / "model.json").read_text())
    tflite = parse_c_array((fw / "kws_model.cc").read_text())
    quant = {k: info[k] for k in ("input_scale", "input_zero_point", "output_scale", "output_zero_point")}
    return dict(tflite=tflite, labels=info["labels"], spec=FeatureSpec(), quant=quant,
                arena_min_bytes=info["arena_min_bytes"], arena_bytes=info["arena_bytes"], ops=info["ops"],
                recognizer=RecognizerConfig(**info["recognizer"]))


def _snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_model_folder_is_replaced_as_a_set_or_not_at_all(model_inputs, tmp_path, monkeypatch):
    from tinykws.export import MANIFEST, verify_model_dir, write_model_dir
    from tinykws.export import spec_header

    out = tmp_path / "run" / "firmware"
    write_model_dir(out, name="old", **model_inputs)
    (out / "README.md").write_text("notes of my own\n")
    before = _snapshot(out)
    verify_model_dir(out)

    # Interrupted after the new kws_model.h / .cc were written (the old code's failure: new hash, old array).
    def boom(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(spec_header, "write_spec_header", boom)
    with pytest.raises(KeyboardInterrupt):
        write_model_dir(out, name="new", **model_inputs)
    assert _snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["firmware"]  # no stage left behind
    monkeypatch.undo()

    # Interrupted at the swap itself: the second rename fails, the old folder comes back.
    real_rename = os.rename

    def rename(src, dst):
        if ".new-" in str(src):
            raise OSError("simulated failure")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="simulated"):
        write_model_dir(out, name="new", **model_inputs)
    monkeypatch.undo()
    assert _snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["firmware"]

    # Completed: the new set, the user's own file carried over, the manifest matching every file.
    paths = write_model_dir(out, name="new", **model_inputs)
    assert all(p.parent == out and p.is_file() for p in paths)
    assert "new" in (out / "kws_model.h").read_text() and (out / "README.md").read_text() == "notes of my own\n"
    listed = [l.split("  ")[1] for l in (out / MANIFEST).read_text().splitlines()]
    assert sorted(listed + [MANIFEST, "README.md"]) == sorted(p.name for p in out.iterdir())
    verify_model_dir(out)


def test_a_mixed_model_folder_is_refused_by_flash_and_by_the_build(model_inputs, tmp_path):
    from tinykws.export import verify_model_dir, write_model_dir

    old, new = tmp_path / "old", tmp_path / "new"
    write_model_dir(old, name="old", **model_inputs)
    write_model_dir(new, name="new", **model_inputs)
    (new / "kws_model.h").write_bytes((old / "kws_model.h").read_bytes())  # half of one export, half of another
    with pytest.raises(UserError, match=r"mix of two exports \(kws_model.h does not match manifest.sha256\)"):
        verify_model_dir(new)

    pre = types.ModuleType("pio_model_dir")
    path = REPO / "firmware" / "tools" / "pio_model_dir.py"
    pre.__file__ = str(path)
    exec(compile(path.read_text(), str(path), "exec"), pre.__dict__)
    assert pre.choose_model_dir(str(tmp_path), {"TINYKWS_MODEL_DIR": str(old)}, None) == str(old)
    with pytest.raises(pre.ModelDirError, match=r"mixes two exports \(kws_model.h does not match"):
        pre.choose_model_dir(str(tmp_path), {"TINYKWS_MODEL_DIR": str(new)}, None)
    (new / "kws_model.cc").unlink()
    with pytest.raises(pre.ModelDirError):
        pre.choose_model_dir(str(tmp_path), {"TINYKWS_MODEL_DIR": str(new)}, None)


def test_an_interrupted_tflite_write_keeps_the_old_file(tmp_path, monkeypatch):
    from tinykws.io import atomic_write_bytes

    path = tmp_path / "model_int8.tflite"
    atomic_write_bytes(path, b"old model")

    def fsync(fd):
        raise KeyboardInterrupt  # power cut before the data is safe

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b"new model, much longer" * 1000)
    monkeypatch.undo()
    assert path.read_bytes() == b"old model" and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_the_training_writes_its_tflite_atomically():
    import ast
    import inspect

    import tinykws.model.quantize as quantize
    import tinykws.pipeline as pipeline

    for mod in (pipeline, quantize):
        tree = ast.parse(inspect.getsource(mod))
        calls = [n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
        assert "write_bytes" not in calls, f"{mod.__name__} writes a file with write_bytes (not atomic)"
    assert 'atomic_write_bytes(run / "model_int8.tflite"' in inspect.getsource(pipeline)


def test_an_interrupted_extraction_leaves_no_dataset_and_resumes(tmp_path, monkeypatch):
    from tests.data.test_download import Server, make_archive
    from tinykws.data import download

    data = make_archive()
    srv = Server(data)
    out = tmp_path / "sc"
    real_extract = download.safe_extract

    def half_then_fail(archive, dest):
        real_extract(archive, dest)
        (dest / "yes" / "spk0_nohash_0.wav").unlink()
        raise KeyboardInterrupt  # Ctrl-C just before the rename

    try:
        monkeypatch.setattr(download, "safe_extract", half_then_fail)
        with pytest.raises(KeyboardInterrupt):
            download.download_speech_commands(out, url=srv.url, sha256=hashlib.sha256(data).hexdigest())
        monkeypatch.undo()
        assert sorted(p.name for p in out.iterdir()) == [".download"]  # only the archive, kept for the next run
        assert sorted(p.name for p in tmp_path.iterdir()) == ["sc"]  # no half-extracted folder beside it
        r = download.download_speech_commands(out, url=srv.url, sha256=hashlib.sha256(data).hexdigest())
    finally:
        srv.close()
    assert r["files"] == 22 and len(list((out / "yes").glob("*.wav"))) == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sc"] and not (out / ".download").exists()


def test_the_extracted_dataset_moves_into_place_in_one_step(tmp_path, monkeypatch):
    """Fail every move out of the extraction folder after the first: one rename must be enough."""
    from tests.data.test_download import Server, make_archive
    from tinykws.data import download

    data = make_archive()
    srv = Server(data)
    out = tmp_path / "sc"
    moves = []
    real_rename, real_replace = os.rename, os.replace

    def guarded(real):
        def move(src, dst):
            if ".sc." in str(src):  # out of the hidden extraction folder beside OUT
                moves.append((str(src), str(dst)))
                if len(moves) > 1:
                    raise OSError("simulated failure on the second move")
            return real(src, dst)
        return move

    monkeypatch.setattr(os, "rename", guarded(real_rename))
    monkeypatch.setattr(os, "replace", guarded(real_replace))
    try:
        r = download.download_speech_commands(out, url=srv.url, sha256=hashlib.sha256(data).hexdigest())
    finally:
        srv.close()
    assert len(moves) == 1 and r["files"] == 22
    assert len(list((out / "yes").glob("*.wav"))) == 20 and (out / "testing_list.txt").is_file()
