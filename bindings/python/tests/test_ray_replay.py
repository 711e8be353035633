"""`winnow replay` on the manifest of a 2-shard winnow.ray run: the replay
(`winnow score` on the stores, then `winnow select`) reproduces the Ray
run's outputs byte for byte, and a changed shard is reported by name.

Needs Ray (`make test-replay-ray` installs the pinned version) and the
`winnow` executable ($WINNOW_CLI, default .build/release/winnow).
"""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
from winnow import ray as wray  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
CLI = os.environ.get("WINNOW_CLI", str(REPO / ".build" / "release" / "winnow"))
if not os.path.exists(CLI):
    pytest.skip(f"the winnow executable is not built ({CLI}): make release", allow_module_level=True)


def winnow(*args, cwd=None):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def ray_run(tmp_path_factory):
    """Two checkpoint stores of 600 rows in 2 shards each, selected on a
    local 2-CPU Ray cluster with a listing and a manifest."""
    folder = tmp_path_factory.mktemp("replay")
    rng = np.random.default_rng(5)
    ids = rng.permutation(5000)[:600].astype(np.int64)
    np.save(folder / "ids.npy", ids)
    train, targets = [], []
    for c in range(2):
        np.save(folder / f"f{c}.npy", rng.standard_normal((600, 24)).astype(np.float32))
        store = folder / f"store{c}"
        assert winnow("store", "import", "--input", folder / f"f{c}.npy", "--store", store,
                      "--ids", folder / "ids.npy", "--shard-rows", 300).returncode == 0
        np.save(folder / f"t{c}.npy", rng.standard_normal((5, 24)).astype(np.float32))
        train.append(str(store))
        targets.append(str(folder / f"t{c}.npy"))
    np.save(folder / "groups.npy", np.array([1, 1, 2, 2, 2], dtype=np.int64))
    here = str(REPO / "bindings" / "python")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": here,
                                       "WINNOW_LIBRARY": os.environ.get("WINNOW_LIBRARY", "")}})
    try:
        result = wray.score_select(train, targets, weights=[2, 1], groups=str(folder / "groups.npy"),
                                   measure="dot", fraction=0.1, output=str(folder / "ids-ray.npy"),
                                   listing=str(folder / "list-ray.csv"),
                                   manifest=str(folder / "m.json"))
    finally:
        ray.shutdown()
    assert len(result.shards) == 2 and result.ids.size == 60
    return folder


def test_replay_of_a_two_shard_ray_run_is_identical(ray_run):
    run = winnow("replay", ray_run / "m.json", "--scratch", ray_run / "replayed")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ids: identical" in run.stdout and "listing: identical" in run.stdout
    assert (ray_run / "replayed" / "ids.npy").read_bytes() == (ray_run / "ids-ray.npy").read_bytes()


def test_replay_names_a_changed_shard_and_the_first_difference(ray_run, tmp_path):
    # A copy of the run whose second shard of checkpoint 0 gets a new best row.
    copy = tmp_path / "run"
    subprocess.run(["cp", "-r", str(ray_run), str(copy)], check=True)
    manifest = (copy / "m.json").read_text().replace(str(ray_run), str(copy))
    (copy / "m.json").write_text(manifest)
    shard = sorted((copy / "store0").glob("shard-000001.features.npy"))[0]
    features = np.load(shard)
    features[7] = np.load(copy / "t0.npy")[2:].mean(axis=0) * 1000  # far the best dot product
    np.save(shard, features)
    run = winnow("replay", copy / "m.json", "--scratch", copy / "replayed")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "input train[0] shard changed" in run.stdout and "shard-000001.features.npy" in run.stdout
    ids = np.load(copy / "ids.npy")
    assert f"row 0 of the ids: recorded {np.load(copy / 'ids-ray.npy')[0]}, replayed {ids[307]}" \
        in run.stdout, run.stdout
