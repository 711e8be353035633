"""winnow.ray on a local two-worker Ray cluster (loopback only): the sharded
selection is byte-identical to `winnow score` + `winnow select` on one machine.

Needs Ray (`make test-ray` installs the pinned version) and the `winnow`
executable ($WINNOW_CLI, default .build/release/winnow); skipped without them.
`make test-ray` runs the quick tests, `make test-ray-full` adds the `full` ones.
"""

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
from winnow import ray as wray  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
CLI = os.environ.get("WINNOW_CLI", str(REPO / ".build" / "release" / "winnow"))
if not os.path.exists(CLI):
    pytest.skip(f"the winnow executable is not built ({CLI}): make release", allow_module_level=True)

full = pytest.mark.full


def run(*args):
    subprocess.run([CLI, *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def cluster():
    """Two worker CPUs on 127.0.0.1; shut down when the module's tests end."""
    here = str(REPO / "bindings" / "python")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, runtime_env={"env_vars": {
                 "PYTHONPATH": here, "WINNOW_LIBRARY": os.environ.get("WINNOW_LIBRARY", "")}})
    yield
    ray.shutdown()


def make_pool(folder: Path, n: int, k: int, shard_rows: int, seed: int = 0) -> dict:
    """Two checkpoint stores of n rows (shards of shard_rows), with many exact
    duplicate rows so that equal scores straddle shards, plus targets."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ids = rng.permutation(10 * n)[:n].astype(np.int64)
    np.save(folder / "ids.npy", ids)
    base = [rng.standard_normal((n, k)).astype(np.float32) for _ in range(2)]
    dup = rng.choice(n, size=n // 3, replace=False)
    for f in base:
        f[dup] = f[dup % 17]  # ties: rows equal to one of the first 17
    paths = {"train": [], "target": []}
    for c, f in enumerate(base):
        np.save(folder / f"f{c}.npy", f)
        store = folder / f"store{c}"
        run("store", "import", "--input", folder / f"f{c}.npy", "--store", store, "--ids",
            folder / "ids.npy", "--shard-rows", shard_rows, "--checkpoint", f"c{c}")
        np.save(folder / f"t{c}.npy", rng.standard_normal((9, k)).astype(np.float32))
        paths["train"].append(str(store))
        paths["target"].append(str(folder / f"t{c}.npy"))
    np.save(folder / "groups.npy", np.array([4, 4, 4, 0, 0, 9, 9, 9, 9], dtype=np.int64))
    paths["groups"] = str(folder / "groups.npy")
    paths["folder"] = folder
    return paths


def single_machine(pool, rule: list, tag: str) -> Path:
    out = pool["folder"] / f"one-{tag}"
    out.mkdir(exist_ok=True)
    run("score", *sum((["--train", t] for t in pool["train"]), []),
        *sum((["--target", t] for t in pool["target"]), []),
        "--checkpoint-weight", 3, "--checkpoint-weight", 1, "--target-groups", pool["groups"],
        "--output", out / "scores.npy")
    run("select", "--scores", out / "scores.npy", *rule, "--ids", pool["train"][0],
        "--output", out / "ids.npy", "--listing", out / "list.csv", "--manifest", out / "m.json")
    return out


def on_ray(pool, rule: dict, tag: str, **options) -> Path:
    out = pool["folder"] / f"ray-{tag}"
    out.mkdir(exist_ok=True)
    wray.score_select(pool["train"], pool["target"], weights=[3, 1], groups=pool["groups"],
                      output=str(out / "ids.npy"), listing=str(out / "list.csv"),
                      manifest=str(out / "m.json"), **rule, **options)
    return out


def assert_identical(one: Path, dist: Path):
    for name in ("ids.npy", "list.csv"):
        assert (one / name).read_bytes() == (dist / name).read_bytes(), name
    a, b = json.loads((one / "m.json").read_text()), json.loads((dist / "m.json").read_text())
    # Documented differences: the runner (tool) and what was read (a scores
    # file on one machine; the stores, shards and targets on Ray).
    for key in ("rule", "tieBreak", "poolSize", "selected", "winnowVersion"):
        assert a[key] == b[key], key
    assert a["inputs"]["ids"]["sha256"] == b["inputs"]["ids"]["sha256"]
    assert b["tool"] == "winnow.ray score-select"


@pytest.fixture(scope="module")
def pool(tmp_path_factory, cluster):
    return make_pool(tmp_path_factory.mktemp("pool"), n=3000, k=48, shard_rows=431)


RULES = [
    ("fraction", ["--fraction", 0.05], {"fraction": 0.05}),
    ("top", ["--top", 123], {"top": 123}),
    ("threshold", ["--threshold", 0.05], {"threshold": 0.05}),
]


@pytest.mark.parametrize("tag,cli_rule,ray_rule", RULES, ids=[r[0] for r in RULES])
def test_selection_is_byte_identical_to_one_machine(pool, tag, cli_rule, ray_rule):
    one = single_machine(pool, cli_rule, tag)
    assert_identical(one, on_ray(pool, ray_rule, tag))


def test_a_top_k_cutting_through_ties_across_shards_is_identical(pool):
    scores = np.load(single_machine(pool, ["--top", 1], "ties-scores") / "scores.npy")
    ordered = np.sort(scores)[::-1]
    # k ends inside a run of equal scores (duplicate rows in several shards).
    k = int(np.flatnonzero(ordered[100:-1] == ordered[101:])[0]) + 101
    assert ordered[k - 1] == ordered[k], "the fixture must tie at the cut"
    one = single_machine(pool, ["--top", k], "ties")
    assert_identical(one, on_ray(pool, {"top": k}, "ties"))


def test_a_worker_killed_mid_job_is_retried_and_the_selection_is_identical(pool):
    marker = pool["folder"] / "crashed"
    one = single_machine(pool, ["--fraction", 0.05], "crash-one")
    dist = on_ray(pool, {"fraction": 0.05}, "crash", memory_cap=4 * 48 * 2 * 2 * 100,
                  _crash_once_marker=str(marker))
    assert marker.exists(), "the first attempt of shard 0 must have died"
    assert_identical(one, dist)


def test_rerunning_gives_the_same_bytes(pool):
    a = on_ray(pool, {"top": 50}, "rerun")
    first = {n: (a / n).read_bytes() for n in ("ids.npy", "list.csv", "m.json")}
    on_ray(pool, {"top": 50}, "rerun")
    assert first == {n: (a / n).read_bytes() for n in ("ids.npy", "list.csv", "m.json")}
    assert not [p for p in a.iterdir() if p.name.startswith(".")], "no temporary left behind"


def _copy_pool(pool, name):
    folder = pool["folder"] / name
    shutil.rmtree(folder, ignore_errors=True)
    train = []
    for t in pool["train"]:
        shutil.copytree(t, folder / Path(t).name)
        train.append(str(folder / Path(t).name))
    return train


def test_a_missing_shard_is_named(pool):
    train = _copy_pool(pool, "missing")
    victim = Path(train[1]) / json.loads((Path(train[1]) / "manifest.json").read_text())["shards"][3]["features"]
    victim.unlink()
    with pytest.raises(wray.ShardError, match=rf"^shard 3 \(rows \d+\.\.\d+\) of .*store1: "
                                              rf"{victim} .*No such file or directory"):
        wray.score_select(train, pool["target"], output=str(pool["folder"] / "x.npy"), top=5)


def test_a_corrupt_shard_is_named(pool):
    train = _copy_pool(pool, "corrupt")
    victim = Path(train[0]) / json.loads((Path(train[0]) / "manifest.json").read_text())["shards"][2]["features"]
    data = bytearray(victim.read_bytes())
    data[-5] ^= 0x40
    victim.write_bytes(bytes(data))
    with pytest.raises(wray.ShardError, match=rf"^shard 2 \(rows \d+\.\.\d+\) of .*store0: "
                                              rf"{victim}: checksum mismatch"):
        wray.score_select(train, pool["target"], output=str(pool["folder"] / "x.npy"), top=5)
    assert not (pool["folder"] / "x.npy").exists(), "no output appears after a mismatch"


@pytest.mark.parametrize("key,value", [("seed", 7), ("projector", "gaussian"), ("k", 32)])
def test_stores_with_different_projections_are_refused(pool, key, value):
    train = _copy_pool(pool, f"projection-{key}")
    path = Path(train[1]) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["metadata"][key] = value
    path.write_text(json.dumps(manifest))
    with pytest.raises(wray.PoolError, match=f"projection parameter {key}"):
        wray.score_select(train, pool["target"], output=str(pool["folder"] / "x.npy"), top=5)


def test_checkpoints_preconditioned_differently_are_refused(pool):
    train = _copy_pool(pool, "preconditioner")
    path = Path(train[1]) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["metadata"]["preconditioner"] = {"method": "ekfac", "damping": 0.1,
                                              "relativeDamping": True}
    path.write_text(json.dumps(manifest))
    with pytest.raises(wray.PoolError, match=r"preconditioner \('ekfac', 0.1, True\) but .* has None"):
        wray.score_select(train, pool["target"], output=str(pool["folder"] / "x.npy"), top=5)


def test_targets_of_the_wrong_dimension_are_refused(pool):
    wrong = pool["folder"] / "t-wrong.npy"
    np.save(wrong, np.ones((9, 47), dtype=np.float32))
    with pytest.raises(wray.PoolError, match="t-wrong.npy: target features have k = 47 but the feature stores have k = 48"):
        wray.score_select(pool["train"], [pool["target"][0], str(wrong)],
                          output=str(pool["folder"] / "x.npy"), top=5)


def test_influence_is_refused_with_a_pointer_to_winnow_score(pool):
    with pytest.raises(wray.PoolError, match="winnow score --measure influence"):
        wray.score_select(pool["train"], pool["target"], output=str(pool["folder"] / "x.npy"),
                          top=5, measure="influence")


def test_the_command_line_starts_a_local_cluster(tmp_path, pool):
    # A second driver process: its own local cluster on 127.0.0.1, shut down at exit.
    one = single_machine(pool, ["--top", 77], "cli-one")
    env = dict(os.environ, PYTHONPATH=str(REPO / "bindings" / "python"))
    env.pop("RAY_ADDRESS", None)
    subprocess.run(
        [os.sys.executable, "-m", "winnow.ray", "score-select",
         *sum((["--train", t] for t in pool["train"]), []),
         *sum((["--target", t] for t in pool["target"]), []),
         "--checkpoint-weight", "3", "--checkpoint-weight", "1", "--target-groups", pool["groups"],
         "--top", "77", "--output", tmp_path / "ids.npy", "--listing", tmp_path / "list.csv",
         "--manifest", tmp_path / "m.json", "--num-cpus", "1"],
        check=True, env=env, capture_output=True, timeout=240)
    assert_identical(one, tmp_path)


@full
def test_a_larger_pool_with_a_sigkilled_worker_is_identical(tmp_path_factory, cluster):
    big = make_pool(tmp_path_factory.mktemp("big"), n=60000, k=256, shard_rows=4096, seed=3)
    one = single_machine(big, ["--fraction", 0.05], "big")
    killed = []

    def kill_a_worker():
        # SIGKILL the first Ray worker process found running a task.
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            out = subprocess.run(["pgrep", "-f", "ray::score_shard"], capture_output=True, text=True)
            pids = [int(p) for p in out.stdout.split()]
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    dist = on_ray(big, {"fraction": 0.05}, "big", memory_cap=1 << 20)
    killer.join()
    assert killed, "no worker was killed"
    assert_identical(one, dist)
