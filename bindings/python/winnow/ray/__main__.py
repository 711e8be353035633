"""``python -m winnow.ray score-select``: sharded scoring on Ray, exact selection.

Submits to the cluster at ``--address`` or ``$RAY_ADDRESS``; without either
it starts a local cluster bound to 127.0.0.1 for the run and stops it after.
The arguments mirror ``winnow score`` and ``winnow select``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m winnow.ray", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score-select", help="score a sharded pool on Ray and select from it")
    s.add_argument("--train", action="append", required=True,
                   help="feature store directory, one per checkpoint (identically sharded)")
    s.add_argument("--target", action="append", required=True,
                   help="target features M x k .npy, one per checkpoint")
    s.add_argument("--checkpoint-weight", action="append", type=float,
                   help="weight eta_c of each checkpoint (default: equal)")
    s.add_argument("--target-groups", help="integer subtask label per target row, .npy (M,)")
    s.add_argument("--measure", default="cosine", choices=["cosine", "dot", "influence"],
                   help="cosine or dot (influence needs the whole pool: use `winnow score`)")
    s.add_argument("--skip-nonfinite", action="store_true",
                   help="score rows with NaN/inf -inf instead of failing")
    s.add_argument("--no-verify", action="store_true", help="do not verify shard checksums")
    rule = s.add_mutually_exclusive_group(required=True)
    rule.add_argument("--fraction", type=float, help="keep the best round(F * eligible), F in (0, 1]")
    rule.add_argument("--top", type=int, help="keep the best K rows")
    rule.add_argument("--threshold", type=float, help="keep every row scoring at least T")
    s.add_argument("--output", required=True, help="selected ids, <i8 .npy, best first")
    s.add_argument("--listing", help="CSV listing: rank,id,score")
    s.add_argument("--manifest", help="JSON manifest: inputs with checksums, rule, version")
    s.add_argument("--address", default=os.environ.get("RAY_ADDRESS"),
                   help="Ray cluster address (default: $RAY_ADDRESS, else a local cluster)")
    s.add_argument("--num-cpus", type=int, default=2, help="CPUs of a local cluster")
    s.add_argument("--memory-cap", type=int, default=256 << 20,
                   help="bytes of features one task holds at once")
    s.add_argument("--max-retries", type=int, default=3, help="retries of a task whose worker died")
    s.add_argument("--stats", action="store_true", help="print timing to stderr")
    return p


def _runtime_env() -> dict:
    """Workers import this binding and load the same libwinnow as the driver."""
    here = str(Path(__file__).resolve().parents[2])
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    if os.environ.get("WINNOW_LIBRARY"):
        env["WINNOW_LIBRARY"] = os.environ["WINNOW_LIBRARY"]
    return {"env_vars": env}


def connect(address: str | None, num_cpus: int):
    """Joins the cluster at ``address``, or starts a local one on 127.0.0.1."""
    import ray

    if address:
        ray.init(address=address, runtime_env=_runtime_env(), log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                 runtime_env=_runtime_env(), log_to_driver=False)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    import ray

    from winnow import WinnowError

    from . import PoolError, ShardError, score_select

    started = time.perf_counter()
    connect(args.address, args.num_cpus)
    try:
        result = score_select(
            args.train, args.target, output=args.output, fraction=args.fraction, top=args.top,
            threshold=args.threshold, weights=args.checkpoint_weight,
            groups=args.target_groups, measure=args.measure, skip_nonfinite=args.skip_nonfinite,
            listing=args.listing, manifest=args.manifest, verify=not args.no_verify,
            memory_cap=args.memory_cap, max_retries=args.max_retries)
    except (PoolError, ShardError, WinnowError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        ray.shutdown()
    print(f"{args.output}: {result.ids.size} of {result.pool_size} rows "
          f"({result.eligible} eligible) from {len(result.shards)} shards")
    if args.stats:
        print(f"elapsed {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
