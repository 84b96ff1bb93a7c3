"""`pip install ./clients/python` works (setuptools, offline) and installs the mpc_node package."""
import os
import shutil
import subprocess
import sys

PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_pip_installs_the_package_and_it_imports_from_there(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("tests", "__pycache__", "*.egg-info", "build"))
    target = tmp_path / "site"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet", "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    code = "import mpc_node, sys; print(mpc_node.__version__, mpc_node.__file__.startswith(sys.argv[1]), sorted(mpc_node.__all__))"
    r = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); " + code, str(target)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split(" ", 2)[:2] == ["0.1.0", "True"]
    assert "aggregate_state_dict" in r.stdout and "MpcNodeError" in r.stdout
