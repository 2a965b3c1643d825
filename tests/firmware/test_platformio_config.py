"""platformio.ini parses (offline, with PlatformIO's own parser) and says what the firmware needs; the model
folder pre-script (firmware/tools/pio_model_dir.py) chooses, checks and stages the model.

`pio project config --json-output` merges [env] into each environment without touching the network,
so these checks run anywhere PlatformIO is installed; they skip with a reason where it is not. The
pre-script's tests need neither PlatformIO nor SCons: its logic is plain functions, and its SCons glue
runs here against a small stand-in for the construction environment.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FW = REPO / "firmware"
ENVS = ("env:nano33ble", "env:esp32dev")
PRE_SCRIPT = "firmware/tools/pio_model_dir.py"
MODEL_FILES = ("kws_model.h", "kws_model.cc", "kws_feature_spec.h", "kws_net_model.h")


def _pio():
    exe = Path(sys.executable).with_name("pio")
    if exe.exists():
        return str(exe)
    return shutil.which("pio") or shutil.which("platformio")


@pytest.fixture(scope="module")
def config():
    pio = _pio()
    if pio is None:
        pytest.skip("platformio is not installed (pip install platformio)")
    p = subprocess.run([pio, "project", "config", "--json-output"], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return {section: dict(items) for section, items in json.loads(p.stdout)}


def test_project_dirs_point_into_firmware(config):
    pio = config["platformio"]
    assert Path(pio["src_dir"]) == FW
    assert Path(pio["lib_dir"]) == FW / "lib"
    assert Path(pio["test_dir"]) == FW / "test"
    assert "include_dir" not in pio  # firmware/include is gone: headers live with their sources


def test_both_boards_with_the_arduino_framework(config):
    assert config["env:nano33ble"]["board"] == "nano33ble"
    assert config["env:esp32dev"]["board"] == "esp32dev"
    assert config["env:nano33ble"]["platform"].startswith("nordicnrf52@")
    assert config["env:esp32dev"]["platform"].startswith("espressif32@6.")  # 6.x ships Arduino-ESP32 2.0.x
    for env in ENVS:
        assert config[env]["framework"] == ["arduino"]


def test_monitor_speeds(config):
    # Recording streams ~45 kB/s of text: the ESP32's UART needs 921600 (the board's Serial.begin agrees).
    assert config["env:esp32dev"]["monitor_speed"] == 921600
    assert "Serial.begin(921600)" in (FW / "ports/esp32dev/port_esp32dev.cpp").read_text()
    assert config["env:nano33ble"]["monitor_speed"] > 0


def test_platforms_and_libraries_are_pinned_exactly(config):
    for env in ENVS:
        assert re.fullmatch(r"[a-z0-9]+@\d+\.\d+\.\d+", config[env]["platform"]), config[env]["platform"]
        for dep in config[env].get("lib_deps", []):
            # A git URL pinned to a full commit, or a registry package pinned to an exact version.
            ok = re.search(r"\.git#[0-9a-f]{40}$", dep) or re.search(r"@\s*\d+\.\d+\.\d+$", dep)
            assert ok, f"{env}: {dep!r} is not pinned to an exact version or commit"


def _ports(config):
    """Every environment's port folder, read from its build_src_filter: "+<app/> +<ports/NAME/>", nothing else."""
    ports = {}
    for env in (section for section in config if section.startswith("env:")):
        flt = " ".join(config[env].get("build_src_filter", []))
        tokens = flt.split()
        assert len(tokens) == 2 and "+<app/>" in tokens, (env, flt)
        m = re.fullmatch(r"\+<ports/([A-Za-z0-9_.-]+)/>", (set(tokens) - {"+<app/>"}).pop())
        assert m, (env, flt)
        ports[env] = m.group(1)
    return ports


def test_each_env_compiles_the_app_and_only_its_own_port(config):
    ports = _ports(config)
    assert ports["env:nano33ble"] == "nano33ble" and ports["env:esp32dev"] == "esp32dev", ports
    for env, port in ports.items():
        assert (FW / "ports" / port).is_dir(), (env, port)


def test_every_port_folder_has_one_environment(config):
    ports = list(_ports(config).values())
    assert sorted(ports) == sorted(p.name for p in (FW / "ports").iterdir() if p.is_dir()), ports


def test_the_source_filters_select_exactly_these_files(config):
    # PlatformIO's own matcher, on the real tree: nothing from lib/, model/, test/ or tools/ is a project source.
    fs = pytest.importorskip("platformio.fs")
    exts = ["c", "cc", "cpp", "S", "spp", "SPP", "sx", "s", "asm", "ASM"]
    app = {f"app/{p.name}" for p in (FW / "app").iterdir() if p.suffix in (".c", ".cpp")}
    assert {"app/main.cpp", "app/native_engine.c", "app/kws_app_config.c", "app/kws_model_data.cpp"} <= app
    for env, port in _ports(config).items():
        src_dir = config["platformio"]["src_dir"]
        flt = " ".join(config[env]["build_src_filter"])
        files = {f.replace(os.sep, "/") for f in fs.match_src_files(src_dir, flt, exts)}
        own = {f"ports/{port}/{p.name}" for p in (FW / "ports" / port).glob("*.cpp")}
        assert own, env
        assert files == app | own, (env, sorted(files))


def test_no_tflm_library_is_a_dependency(config):
    # The firmware runs the native engine only: no environment pulls in a TFLM library.
    for env in ENVS:
        deps = " ".join(config[env].get("lib_deps", []))
        assert not re.search(r"tensorflow|tflite|tflm", deps, re.I), (env, deps)
        assert "KWS_ENGINE_TFLM" not in " ".join(config[env]["build_flags"]), env


def test_the_firmware_sources_hold_no_tflm_engine():
    # Needs no PlatformIO: what a build could compile (app/, ports/, lib/) neither is nor includes TFLM.
    # The QEMU comparator's TFLM engine lives under test/, which no environment compiles.
    sources = [p for d in ("app", "ports", "lib") for p in (FW / d).rglob("*") if p.suffix in (".c", ".cpp", ".h", ".cc")]
    assert any(p.name == "native_engine.c" for p in sources)
    for p in sources:
        text = p.read_text()
        assert "tflm" not in p.name.lower(), p
        assert not re.search(r'#\s*include\s*[<"](tensorflow/|Chirale_TensorFlowLite)', text), p
        assert "KWS_ENGINE_TFLM" not in text, p
    assert (FW / "test/qemu/tflm_engine.cpp").is_file()


def test_the_model_comes_from_the_pre_script(config):
    assert (REPO / PRE_SCRIPT).is_file()
    for env in ENVS:
        assert f"pre:{PRE_SCRIPT}" in config[env]["extra_scripts"], env
        assert config[env]["custom_model_dir"] == "firmware/model", env
        # No model folder on the include path by hand: only the staged copy, so switching models is one setting.
        flags = " ".join(config[env]["build_flags"])
        assert not re.search(r"-I\s*\S*model", flags), (env, flags)
    for name in MODEL_FILES:
        assert (FW / "model" / name).is_file(), name


def test_esp32_i2s_pins_are_build_flags(config):
    flags = " ".join(config["env:esp32dev"]["build_flags"])
    for pin in ("KWS_I2S_SCK", "KWS_I2S_WS", "KWS_I2S_SD"):
        assert re.search(rf"-D{pin}=\d+", flags), pin


# ---- firmware/tools/pio_model_dir.py ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def pre_script():
    # Loaded by path (it is not a package module), without writing bytecode next to it in firmware/tools.
    mod = types.ModuleType("pio_model_dir")
    mod.__file__ = str(REPO / PRE_SCRIPT)
    exec(compile((REPO / PRE_SCRIPT).read_text(), mod.__file__, "exec"), mod.__dict__)
    assert mod.env is None  # outside SCons Import() is undefined, so no build was configured
    return mod


def _model(folder: Path, tag: str = "a") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        (folder / name).write_text(f"// {name} of model {tag}\n")
    return folder


def test_the_default_is_the_shipped_model(pre_script):
    assert Path(pre_script.choose_model_dir(str(REPO), {}, None)) == FW / "model"
    assert Path(pre_script.choose_model_dir(str(REPO), {}, "")) == FW / "model"


def test_env_var_beats_option_beats_default(pre_script, tmp_path, monkeypatch):
    project = tmp_path / "project"
    _model(project / "firmware/model", "default")
    _model(project / "from_option", "option")
    run = _model(tmp_path / "runs/r1/firmware", "run")
    monkeypatch.chdir(tmp_path)  # relative paths are the project's, not the working directory's
    choose = pre_script.choose_model_dir
    assert Path(choose(str(project), {}, None)) == project / "firmware/model"
    assert Path(choose(str(project), {}, "from_option")) == project / "from_option"
    assert Path(choose(str(project), {"TINYKWS_MODEL_DIR": str(run)}, "from_option")) == run
    assert Path(choose(str(project), {"TINYKWS_MODEL_DIR": "../runs/r1/firmware"}, None)) == run
    assert Path(choose(str(project), {"TINYKWS_MODEL_DIR": ""}, "from_option")) == project / "from_option"


def test_an_incomplete_model_folder_is_refused(pre_script, tmp_path):
    folder = _model(tmp_path / "m")
    (folder / "kws_feature_spec.h").unlink()
    with pytest.raises(pre_script.ModelDirError, match=r"TINYKWS_MODEL_DIR\) lacks kws_feature_spec\.h;"):
        pre_script.choose_model_dir(str(tmp_path), {"TINYKWS_MODEL_DIR": "m"}, None)
    with pytest.raises(pre_script.ModelDirError, match=r"custom_model_dir.*does not exist"):
        pre_script.choose_model_dir(str(tmp_path), {}, "no_such_folder")


def test_staging_rewrites_only_what_changed(pre_script, tmp_path):
    a, b, staging = _model(tmp_path / "a", "a"), _model(tmp_path / "b", "a"), tmp_path / "build/tinykws_model"
    assert pre_script.stage_model(str(a), str(staging)) == list(MODEL_FILES)
    for name in MODEL_FILES:
        assert (staging / name).read_bytes() == (a / name).read_bytes()
        os.utime(staging / name, ns=(1_000_000_000, 1_000_000_000))  # an old timestamp, to see any rewrite
    assert pre_script.stage_model(str(a), str(staging)) == []
    (b / "kws_model.cc").write_text("// another flatbuffer\n")
    assert pre_script.stage_model(str(b), str(staging)) == ["kws_model.cc"]
    assert (staging / "kws_model.cc").read_text() == "// another flatbuffer\n"
    for name in ("kws_model.h", "kws_feature_spec.h"):
        assert (staging / name).stat().st_mtime_ns == 1_000_000_000, name
    assert sorted(p.name for p in staging.iterdir()) == sorted(MODEL_FILES)  # no temporary file left behind


class _FakeSConsEnv:
    """The few construction-environment methods the pre-script's glue calls."""

    def __init__(self, project_dir, build_dir, option=None, clean=False):
        self.vars = {"$PROJECT_DIR": str(project_dir), "$BUILD_DIR": str(build_dir)}
        self.option, self.clean, self.cpppath, self.exit_code = option, clean, [], None

    def IsCleanTarget(self):
        return self.clean

    def subst(self, text):
        return self.vars[text]

    def GetProjectOption(self, name, default=None):
        assert name == "custom_model_dir"
        return default if self.option is None else self.option

    def Append(self, CPPPATH):
        self.cpppath.extend(CPPPATH)

    def Exit(self, code):
        self.exit_code = code
        raise SystemExit(code)


def _run_as_scons(fake):
    # SCons runs an extra script with exec(), providing Import() to fetch the exported `env`.
    scope = {"__name__": "SCons", "Import": lambda name: scope.__setitem__(name, fake)}
    code = compile((REPO / PRE_SCRIPT).read_text(), PRE_SCRIPT, "exec")
    try:
        exec(code, scope)
    except SystemExit:
        pass


def test_scons_glue_stages_the_model_and_adds_the_include_path(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TINYKWS_MODEL_DIR", raising=False)
    project, build = tmp_path / "p", tmp_path / "p/.pio/build/nano33ble"
    _model(project / "firmware/model")
    build.mkdir(parents=True)
    fake = _FakeSConsEnv(project, build)
    _run_as_scons(fake)
    assert fake.exit_code is None and fake.cpppath == [str(build / "tinykws_model")]
    assert sorted(p.name for p in (build / "tinykws_model").iterdir()) == sorted(MODEL_FILES)
    assert "firmware/model" in capsys.readouterr().out

    run = _model(tmp_path / "runs/r/firmware", "run")
    monkeypatch.setenv("TINYKWS_MODEL_DIR", str(run))
    fake = _FakeSConsEnv(project, build, option="elsewhere")
    _run_as_scons(fake)
    assert fake.cpppath == [str(build / "tinykws_model")]  # the same folder for every model
    assert (build / "tinykws_model/kws_model.h").read_text() == "// kws_model.h of model run\n"


def test_scons_glue_stops_the_build_on_a_bad_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINYKWS_MODEL_DIR", str(tmp_path / "missing"))
    fake = _FakeSConsEnv(tmp_path, tmp_path / "build")
    _run_as_scons(fake)
    assert fake.exit_code == 1 and fake.cpppath == []
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "missing" in out[0] and "TINYKWS_MODEL_DIR" in out[0], out
    fake = _FakeSConsEnv(tmp_path, tmp_path / "build", clean=True)  # cleaning needs no model
    _run_as_scons(fake)
    assert fake.exit_code is None and fake.cpppath == []
