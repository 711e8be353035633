"""Sharded scoring on Ray (issue 8): the figures `make bench-ray` reports.

1. Throughput of `python -m winnow.ray`'s engine (score + exact selection)
   on a local cluster with 1 and 2 worker CPUs, next to single-machine
   `winnow score` + `winnow select` on the same store.
2. The merge cost (the cut rounds plus collecting and ordering the
   candidates) as a function of the shard count and of k.

Prints a JSON record and a Markdown table; sizes with --rows/--dim.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bindings" / "python"))
CLI = os.environ.get("WINNOW_CLI", str(REPO / ".build" / "release" / "winnow"))


def cli(*args):
    subprocess.run([CLI, *map(str, args)], check=True, capture_output=True)


def store(folder: Path, features: Path, shard_rows: int) -> str:
    path = folder / f"store-{shard_rows}"
    if not path.exists():
        cli("store", "import", "--input", features, "--store", path, "--shard-rows", shard_rows)
    return str(path)


def ray_run(ray, wray, train, target, cpus, rule, out, repeats=2):
    here = str(REPO / "bindings" / "python")
    ray.init(num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, runtime_env={"env_vars": {
                 "PYTHONPATH": here, "WINNOW_LIBRARY": os.environ.get("WINNOW_LIBRARY", "")}})
    try:
        runs = []
        for _ in range(repeats + 1):  # the first run warms the workers up
            t = time.perf_counter()
            sel = wray.score_select([train], [target], output=str(out), **rule)
            runs.append((time.perf_counter() - t, sel.timings))
        return min(runs[1:], key=lambda r: r[0])
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--merge-rows", type=int, default=200_000)
    args = parser.parse_args()
    import ray

    from winnow import ray as wray

    record = {"rows": args.rows, "dim": args.dim, "ray": ray.__version__}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rng = np.random.default_rng(0)
        np.save(tmp / "f.npy", rng.standard_normal((args.rows, args.dim), dtype=np.float32))
        np.save(tmp / "t.npy", rng.standard_normal((16, args.dim), dtype=np.float32))
        train = store(tmp, tmp / "f.npy", 32_768)
        gb = args.rows * args.dim * 4 / 1e9

        # 1. Throughput: one machine, then Ray with 1 and 2 worker CPUs.
        times = []
        for _ in range(3):
            t = time.perf_counter()
            cli("score", "--train", train, "--target", tmp / "t.npy", "--output", tmp / "s.npy")
            cli("select", "--scores", tmp / "s.npy", "--fraction", 0.05, "--ids", train,
                "--output", tmp / "one.npy")
            times.append(time.perf_counter() - t)
        record["single_machine_s"] = min(times)
        for cpus in (1, 2):
            wall, phases = ray_run(ray, wray, train, str(tmp / "t.npy"), cpus, {"fraction": 0.05},
                                   tmp / f"ray{cpus}.npy")
            assert (tmp / f"ray{cpus}.npy").read_bytes() == (tmp / "one.npy").read_bytes()
            record[f"ray_{cpus}_workers_s"] = wall
            record[f"ray_{cpus}_workers_phases"] = phases
        for key in ("single_machine_s", "ray_1_workers_s", "ray_2_workers_s"):
            record[key.replace("_s", "_rows_per_s")] = args.rows / record[key]
        record["features_GB"] = gb

        # 2. Merge cost vs shard count and k (2 workers, a smaller pool).
        np.save(tmp / "m.npy", rng.standard_normal((args.merge_rows, 64), dtype=np.float32))
        np.save(tmp / "mt.npy", rng.standard_normal((16, 64), dtype=np.float32))
        merge = []
        for shards in (4, 16, 64):
            path = store(tmp, tmp / "m.npy", -(-args.merge_rows // shards))
            for k in (100, 10_000, 100_000):
                wall, phases = ray_run(ray, wray, path, str(tmp / "mt.npy"), 2, {"top": k},
                                       tmp / "merge.npy", repeats=1)
                merge.append({"shards": shards, "k": k, "wall_s": wall, **phases})
        record["merge"] = merge
    print(json.dumps(record, indent=2))
    print("\n| workers | wall (s) | rows/s | GB/s of features |\n|---|---|---|---|")
    print(f"| winnow score + select (one process) | {record['single_machine_s']:.2f} | "
          f"{record['single_machine_rows_per_s']:,.0f} | {gb / record['single_machine_s']:.2f} |")
    for cpus in (1, 2):
        w = record[f"ray_{cpus}_workers_s"]
        print(f"| Ray, {cpus} worker(s) | {w:.2f} | {args.rows / w:,.0f} | {gb / w:.2f} |")
    print("\n| shards | k | cut (s) | collect + merge (s) | score (s) |\n|---|---|---|---|---|")
    for m in merge:
        print(f"| {m['shards']} | {m['k']:,} | {m['cut']:.3f} | {m['collect']:.3f} | {m['score']:.2f} |")


if __name__ == "__main__":
    main()
