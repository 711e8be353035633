"""The wheel from `make wheel`, installed with pip into a fresh virtual
environment, runs a selection from a folder outside the repository with no
WINNOW_LIBRARY and no PYTHONPATH: the package finds its bundled
libwinnow.so. WINNOW_LIBRARY still overrides it. `make test-wheel` builds
the wheel and passes its path in WINNOW_WHEEL."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

WHEEL = os.environ.get("WINNOW_WHEEL")
REPO = Path(__file__).resolve().parents[3]

SELECTION = textwrap.dedent("""
    import json, sys
    import numpy as np
    import winnow
    from winnow import _lib
    rng = np.random.default_rng(0)
    target = rng.standard_normal((1, 16)).astype(np.float32)
    pool = rng.standard_normal((40, 16)).astype(np.float32)
    pool[[3, 17, 29]] = 5 * target  # the three rows aligned with the target
    engine = winnow.Engine(np.arange(40), feature_dim=16, select_fraction=3 / 40)
    engine.begin_epoch(0)
    engine.add_target(0, target)
    engine.add_candidates(np.arange(40), pool)
    plan = engine.end_epoch()
    try:
        winnow.FactoredProjector([(1, 4, 4, 0, 2)])
        shape_is_value_error = False
    except ValueError as error:
        shape_is_value_error = isinstance(error, winnow.WinnowError)
    print(json.dumps({"module": winnow.__file__, "library": _lib.lib._name,
                      "selected": sorted(int(i) for i in plan.ids),
                      "version": winnow.version(), "value_error": shape_is_value_error}))
""")


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    if not WHEEL:
        pytest.skip("WINNOW_WHEEL is not set: run `make test-wheel`")
    root = tmp_path_factory.mktemp("wheel-venv")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", WHEEL], check=True)
    return root, python


def run(venv, **env):
    root, python = venv
    clean = {k: v for k, v in os.environ.items()
             if k not in ("WINNOW_LIBRARY", "PYTHONPATH", "WINNOW_WHEEL")}
    done = subprocess.run([str(python), "-c", SELECTION], cwd=root, env={**clean, **env},
                          capture_output=True, text=True, check=True)
    import json
    return json.loads(done.stdout)


def test_the_installed_wheel_selects_from_outside_the_repository(venv):
    got = run(venv)
    assert Path(got["module"]).is_relative_to(venv[0] / "venv")
    assert Path(got["library"]).is_relative_to(venv[0] / "venv")
    assert got["library"].endswith("winnow/_native/libwinnow.so")
    assert got["selected"] == [3, 17, 29]
    assert got["version"] == "0.1.0" and got["value_error"]


def test_winnow_library_overrides_the_bundled_library(venv):
    library = REPO / ".build" / "lib" / "libwinnow.so"
    got = run(venv, WINNOW_LIBRARY=str(library))
    assert got["library"] == str(library)
    assert got["selected"] == [3, 17, 29]
