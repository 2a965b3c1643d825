"""PlatformIO pre-script: choose the model folder and put it on the include path.

A model folder holds the files `tinykws export` generates for one run: kws_model.h, kws_model.cc
(the flatbuffer array; compiled through firmware/app/kws_model_data.cpp) and kws_feature_spec.h
(the MFCC front end the portable core is built for), plus model.json. The folder is chosen by,
first to last:

1. the environment variable TINYKWS_MODEL_DIR (what `tinykws flash` sets: runs/<run>/firmware);
2. the project option ``custom_model_dir`` of the environment in platformio.ini;
3. firmware/model, the default model shipped with the repository.

Relative paths are taken from the project folder (the one holding platformio.ini). The three
generated headers and sources are copied into one fixed folder, $BUILD_DIR/tinykws_model, which is
appended to CPPPATH (for the project sources and for the kws_core library alike). Because that
folder is the same for every model, compiler command lines do not change between models, and a
file is only rewritten when its content differs, so switching models rebuilds just what includes
the model. A folder that lacks one of the files stops the build with one line saying which.

`tinykws export` writes a model folder as one set and lists its files with their sha256 in
manifest.sha256 (the `sha256sum` format). When that manifest is there, every file it lists must
match it, so a folder mixing two exports (one interrupted, or files copied by hand) stops the build
instead of pairing one model's hash with another's array. A folder without a manifest (written by
hand) is used as it is.

The SCons glue at the bottom is kept tiny; choose_model_dir() and stage_model() are plain
functions, importable without PlatformIO (tests/firmware/test_platformio_config.py does).
"""

import hashlib
import os

ENV_VAR = "TINYKWS_MODEL_DIR"
OPTION = "custom_model_dir"
DEFAULT_MODEL_DIR = "firmware/model"
MODEL_FILES = ("kws_model.h", "kws_model.cc", "kws_feature_spec.h", "kws_net_model.h")
STAGING_NAME = "tinykws_model"  # under $BUILD_DIR
MANIFEST = "manifest.sha256"


class ModelDirError(Exception):
    """The chosen model folder cannot be used (the message is one line for the build log)."""


def choose_model_dir(project_dir, environ=None, option=None):
    """The absolute model folder to build with; raises ModelDirError if a model file is missing.

    ``environ`` is a mapping like os.environ (its TINYKWS_MODEL_DIR wins when set and not empty),
    ``option`` the value of custom_model_dir (None or empty when the option is not set).
    """
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR):
        value, origin = environ[ENV_VAR], "from " + ENV_VAR
    elif option:
        value, origin = option, "from " + OPTION
    else:
        value, origin = DEFAULT_MODEL_DIR, "the default"
    path = os.path.expanduser(str(value).strip())
    if not os.path.isabs(path):
        path = os.path.join(project_dir, path)
    path = os.path.normpath(path)
    if not os.path.isdir(path):
        raise ModelDirError(f"tinykws model folder {path} ({origin}) does not exist; "
                            "write one with `tinykws export RUN`")
    missing = [name for name in MODEL_FILES if not os.path.isfile(os.path.join(path, name))]
    if missing:
        raise ModelDirError(f"tinykws model folder {path} ({origin}) lacks {', '.join(missing)}; "
                            "write it with `tinykws export RUN`")
    problem = check_manifest(path)
    if problem:
        raise ModelDirError(f"tinykws model folder {path} ({origin}) {problem}; "
                            "write it again with `tinykws export RUN`")
    return path


def check_manifest(path):
    """What is wrong with the folder against its manifest.sha256, or None (also when there is none)."""
    manifest = os.path.join(path, MANIFEST)
    if not os.path.isfile(manifest):
        return None
    with open(manifest, encoding="utf-8", errors="replace") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    for line in lines:
        digest, _, name = line.partition("  ")
        file_path = os.path.join(path, name)
        if not name or "/" in name or not os.path.isfile(file_path):
            return f"is incomplete ({name or line} is missing; an interrupted export?)"
        with open(file_path, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != digest.strip():
                return f"mixes two exports ({name} does not match {MANIFEST})"
    return None


def stage_model(model_dir, staging_dir):
    """Copy the model files into ``staging_dir``, each only if its content differs.

    Unchanged files keep their timestamps, so the build does not recompile what did not change.
    Returns the names of the files written (empty when the staging folder was already current).
    """
    os.makedirs(staging_dir, exist_ok=True)
    written = []
    for name in MODEL_FILES:
        with open(os.path.join(model_dir, name), "rb") as f:
            data = f.read()
        dst = os.path.join(staging_dir, name)
        if os.path.isfile(dst):
            with open(dst, "rb") as f:
                if f.read() == data:
                    continue
        tmp = dst + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, dst)  # a build never sees a half-written header
        written.append(name)
    return written


def _configure(env):
    if env.IsCleanTarget():
        return  # `pio run -t clean` removes $BUILD_DIR anyway; no model is needed for that
    project_dir = env.subst("$PROJECT_DIR")
    try:
        model_dir = choose_model_dir(project_dir, os.environ, env.GetProjectOption(OPTION, ""))
    except ModelDirError as e:
        print(f"Error: {e}")
        env.Exit(1)
        return
    staging = os.path.join(env.subst("$BUILD_DIR"), STAGING_NAME)
    stage_model(model_dir, staging)
    try:
        shown = os.path.relpath(model_dir, project_dir)
    except ValueError:  # another drive (Windows)
        shown = model_dir
    print(f"tinykws model: {shown}")
    env.Append(CPPPATH=[staging])


try:
    Import("env")  # noqa: F821 - provided by SCons when PlatformIO runs this file
except NameError:  # imported as a plain module (tests)
    env = None

if env is not None:
    _configure(env)
