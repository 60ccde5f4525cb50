"""The package as users get it: a quiet import, a wheel that installs, a console command."""

import json
import os
import subprocess
import sys

from conftest import ROOT, run_cli


def test_import_sets_no_environment_variable_and_registers_the_layers():
    # TensorFlow sets a few variables of its own when it loads: compare after `import keras`.
    code = ("import json, os, keras; before = dict(os.environ); import crnn_keras; "
            "print(json.dumps([dict(os.environ) == before, "
            "keras.saving.get_registered_object('crnn_keras>CTCDecoder') is not None]))")
    done = run_cli("-c", code)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True, True]


def test_wheel_installs_without_dependencies_and_gives_the_console_command(tmp_path):
    wheels = tmp_path / "wheels"
    # No build isolation: the build uses the setuptools already installed (CI has no extra downloads).
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheels), ROOT], check=True, capture_output=True, timeout=300)
    [wheel] = os.listdir(wheels)
    venv = tmp_path / "venv"
    # The venv sees this interpreter's packages (NumPy, Pillow, LiteRT, TensorFlow) but gets its own crnn_keras.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--no-deps", "-q", str(wheels / wheel)], check=True,
                   capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(venv / "bin" / "crnn-keras"), "predict", "--help"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "--model" in done.stdout, done.stderr
    done = subprocess.run([str(venv / "bin" / "python"), "-c", "import crnn_keras; print(crnn_keras.__file__)"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert done.stdout.strip().startswith(str(venv)), done.stdout + done.stderr


def test_without_keras_the_commands_that_need_it_say_so_in_one_line(tmp_path):
    # As in a reader-only install: `import keras` fails.
    block = "import sys; sys.modules['keras'] = None; sys.modules['tensorflow'] = None; "
    (tmp_path / "m.keras").write_bytes(b"x")
    for args, message in (
        (["predict", "--model", str(tmp_path / "m.keras"), str(tmp_path)], "a .keras model needs keras"),
        (["train", "--data", str(tmp_path)], "this needs keras, which is not installed"),
    ):
        code = block + f"from crnn_keras.cli import main; sys.exit(main({args!r}))"
        done = run_cli("-c", code)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert message in done.stderr and 'pip install "crnn_keras[train]"' in done.stderr
