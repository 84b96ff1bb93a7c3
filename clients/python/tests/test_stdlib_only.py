"""The core needs nothing beyond the standard library: importing mpc_node loads neither numpy
nor torch, and test_core.py passes in a fresh interpreter where both cannot be imported."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
BLOCK = "import sys; sys.modules['numpy'] = None; sys.modules['torch'] = None; "


def _run(code):
    env = dict(os.environ, PYTHONPATH=PKG, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-c", code], cwd=HERE, env=env, capture_output=True, text=True, timeout=300)


def test_importing_mpc_node_and_sending_bytes_loads_neither_numpy_nor_torch():
    r = _run(
        "import sys, mpc_node\n"
        "from mpc_node import _buffers\n"
        "_buffers.as_wire(b'\\0\\0\\0\\0'); _buffers.as_wire(bytearray(8))\n"
        "print(sorted(m for m in ('numpy', 'torch') if m in sys.modules))\n"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_the_core_tests_pass_with_numpy_and_torch_not_importable():
    r = _run(BLOCK + "import pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'test_core.py']))")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert " passed" in r.stdout and "failed" not in r.stdout and "error" not in r.stdout


def test_blocking_works_numpy_objects_cannot_be_made_there():
    r = _run(BLOCK + "\ntry:\n    import numpy\nexcept ImportError:\n    print('blocked')\n")
    assert r.stdout.strip() == "blocked"
