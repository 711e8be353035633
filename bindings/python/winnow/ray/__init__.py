"""Sharded scoring on Ray with an exact global selection.

``score_select`` scores a feature-store pool one Ray task per shard (each
task memory-maps its shard, verifies its SHA-256, and scores it with the
binding in blocks) and selects exactly what ``winnow score`` + ``winnow
select`` select on one machine: the same ids, listing and rule, bit for bit.

How the selection stays exact without gathering every score:

1. *Score*: one task per shard returns its row and eligible counts; its
   scores stay in the worker's object store (4 bytes a row).
2. *Cut* (top-k, fraction): ``k`` follows from the global eligible count;
   four rounds of 256-bucket histograms over the scores' order keys (one
   byte per round) find the k-th best score exactly.
3. *Collect*: each shard returns its rows above the cut and its first rows
   equal to it; the driver puts them in pool order and hands them to the
   library (``winnow.Selection`` with the pool's eligible count), which
   applies the rule of ``winnow select`` and writes the ids, listing and
   manifest. For a threshold, the cut is the threshold.

The count for a rule, the rule, the tie order and the files are the
library's (the C ABI's ``wn_selection_*``); the workers read the stores
through the library too (``winnow.FeatureStore``), which verifies each
shard's SHA-256 as its rows stream past. Python only moves data.

Row scores do not depend on the shard split (``winnow.Scorer``), so the
result is byte-identical to the single-machine run. Influence scores need
the Gram matrix of the whole pool and are refused (use ``winnow score``).

Failures: a task whose worker dies is retried (``max_retries``), and lost
score objects are rebuilt by Ray from lineage; the driver asserts that the
shards cover every row exactly once and that the selection holds no
duplicate. Outputs are written atomically, so a rerun is idempotent.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._stores import PoolError, ShardError, load_targets, open_pool
from ._tasks import collect, key_histogram, score_shard

__all__ = ["score_select", "Selection", "PoolError", "ShardError", "RAY_VERSION"]

#: The Ray release this module is tested with (``make test-ray`` installs it).
RAY_VERSION = "2.60.0"


@dataclass
class Selection:
    """What ``score_select`` selected and how."""

    rows: np.ndarray     #: global row indices, best first
    ids: np.ndarray      #: sample ids, best first
    scores: np.ndarray   #: their scores (float32)
    pool_size: int       #: rows in the pool
    eligible: int        #: rows not excluded (-inf)
    shards: list         #: per-shard summaries from the workers
    manifest: dict
    timings: dict        #: seconds per phase: score, cut, collect (merge included), write


def _float_key_to_score(key: int) -> np.float32:
    bits = key & 0x7FFFFFFF if key & 0x80000000 else ~key & 0xFFFFFFFF
    return np.array([bits], dtype=np.uint32).view(np.float32)[0]


def _kth_best(ray, remote_histogram, score_refs, k: int) -> tuple[np.float32, int]:
    """The k-th best score over all shards and how many rows equal to it
    the selection takes, by radix selection on the order keys."""
    prefix, remaining = 0, k
    for shift in (24, 16, 8, 0):
        counts = sum(_get(ray, [remote_histogram.remote(r, shift, prefix) for r in score_refs]))
        above = 0
        for bucket in range(255, -1, -1):
            if above + counts[bucket] >= remaining:
                remaining -= above
                prefix = (prefix << 8) | bucket
                break
            above += counts[bucket]
    return _float_key_to_score(prefix), remaining


def score_select(train, targets, *, output: str, fraction: float | None = None,
                 top: int | None = None, threshold: float | None = None, weights=None,
                 groups=None, measure: str = "cosine", skip_nonfinite: bool = False,
                 listing: str | None = None, manifest: str | None = None, verify: bool = True,
                 memory_cap: int = 256 << 20, max_retries: int = 3,
                 _crash_once_marker: str | None = None) -> Selection:
    """Scores a sharded pool on the connected Ray cluster and selects from it.

    Args:
        train: one feature store directory per checkpoint, sharded identically
            (paths every node can read).
        targets: one ``M x k`` target feature array or ``.npy`` path per checkpoint.
        output: the selected ids (``<i8`` ``.npy``, best first).
        fraction / top / threshold: exactly one selection rule, as in
            ``winnow select`` (``fraction`` keeps ``round(F * eligible)``).
        weights: checkpoint weights (default equal; renormalized).
        groups: target subtask labels (``.npy`` path or array; default one group).
        measure: ``"cosine"`` or ``"dot"``.
        skip_nonfinite: score rows holding NaN/inf ``-inf`` instead of failing.
        listing / manifest: optional CSV listing and JSON manifest paths.
        verify: check every shard file's SHA-256 against its manifest.
        memory_cap: bytes of features a task holds at once (sets the block).
        max_retries: Ray retries of a task whose worker died.

    Raises ``PoolError`` (stores, targets, parameters), ``ShardError`` (a
    missing, corrupt or mismatched shard, named) and ``ValueError``.
    """
    import ray

    import winnow

    rule = {"top": top, "fraction": fraction, "threshold": threshold}
    if sum(v is not None for v in rule.values()) != 1:
        raise ValueError("give exactly one of fraction, top, threshold")
    if measure == "influence":
        raise PoolError("influence scores need the Gram matrix of the whole pool and are not "
                        "sharded; run `winnow score --measure influence` on one machine, or use "
                        "--measure cosine or dot")
    if measure not in ("cosine", "dot"):
        raise ValueError(f"measure must be cosine or dot, got {measure!r}")
    train = [str(t) for t in train]
    if len(targets) != len(train):
        raise PoolError(f"{len(train)} train stores but {len(targets)} targets: one of each per checkpoint")
    pool = open_pool(train)
    winnow.selection.rule_count(pool.rows, **rule)  # the library checks the rule before any task
    target_arrays = load_targets(targets, pool.k)
    group_labels = None
    if groups is not None:
        group_labels = np.load(groups) if isinstance(groups, (str, Path)) else np.asarray(groups)
        group_labels = group_labels.astype(np.int64)
    w = None if weights is None else [float(x) for x in weights]
    if w is not None and len(w) != len(train):
        raise PoolError(f"{len(w)} checkpoint weights for {len(train)} checkpoints")
    # Fail fast on bad targets, groups or weights, before any task runs.
    winnow.Scorer(target_arrays, weights=w, groups=group_labels, measure=measure).close()

    row_bytes = 4 * pool.k * len(train)
    block_rows = max(1, memory_cap // (2 * row_bytes))
    score_task = ray.remote(num_returns=2, max_retries=max_retries)(score_shard)
    histogram_task = ray.remote(max_retries=max_retries)(key_histogram)
    collect_task = ray.remote(max_retries=max_retries)(collect)

    clock = [time.perf_counter()]

    def lap() -> float:
        clock.append(time.perf_counter())
        return clock[-1] - clock[-2]

    target_ref = ray.put(target_arrays)
    pending = [score_task.remote(s, target_ref, w, group_labels, measure, skip_nonfinite, verify,
                                 block_rows, _crash_once_marker if s.index == 0 else None)
               for s in pool.shards]
    summaries = _get(ray, [p[0] for p in pending])
    score_refs = [p[1] for p in pending]
    _check_cover(pool, summaries)
    timings = {"score": lap()}
    eligible = sum(s["eligible"] for s in summaries)
    if eligible == 0:
        raise PoolError(f"all {pool.rows} scores are -inf (excluded): nothing to select")

    if threshold is not None:
        cut, ties = np.float32(threshold), None
    else:
        k = winnow.selection.rule_count(eligible, **rule)
        cut, ties = _kth_best(ray, histogram_task, score_refs, k)
    timings["cut"] = lap()
    parts = _get(ray, [collect_task.remote(r, s, float(cut), ties)
                     for r, s in zip(score_refs, pool.shards)])
    rows = np.concatenate([p["rows"] for p in parts])
    # The candidates in pool order: the library breaks ties by position.
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    scores = np.concatenate([p["scores"] for p in parts])[order]
    ids = np.concatenate([p["ids"] for p in parts])[order]
    if rows.size and np.any(rows[1:] == rows[:-1]):
        raise RuntimeError("internal error: the collected candidates hold a row twice")
    with winnow.Selection(scores, pool_eligible=eligible, **rule) as chosen:
        timings["collect"] = lap()
        fields = _manifest_fields(pool, targets, groups, w, measure, skip_nonfinite, summaries)
        chosen.write(output, ids=ids, listing=listing, manifest=manifest, fields=fields)
        picked = chosen.indices
    timings["write"] = lap()
    meta = fields if manifest is None else json.loads(Path(manifest).read_text())
    return Selection(rows[picked], ids[picked], scores[picked], pool.rows, eligible, summaries,
                     meta, timings)


def _get(ray, refs):
    """``ray.get``, re-raising a task's own error (a ``ShardError`` naming the
    shard, a ``WinnowError``) instead of Ray's wrapper with its traceback."""
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as error:
        cause = getattr(error, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise


def _check_cover(pool, summaries) -> None:
    """Every row of the pool scored exactly once, by the shard that owns it."""
    seen = sorted((s["start"], s["rows"], s["shard"]) for s in summaries)
    expected = [(sh.start, sh.rows, sh.index) for sh in pool.shards]
    if seen != expected:
        raise RuntimeError(f"internal error: the shards scored {seen}, the pool has {expected}")


def _manifest_fields(pool, targets, groups, weights, measure, skip, summaries) -> dict:
    """What this runner records in the manifest beside the library's fields
    (rule, tieBreak, selected, winnowVersion, outputs, outputsSHA256)."""
    import ray

    stores = []
    for store, m, h in zip(pool.stores, pool.manifests, pool.manifest_sha256):
        stores.append({
            "path": store, "manifestSHA256": h, "metadata": m["metadata"],
            "shards": [{k: sh[k] for k in ("features", "featuresSHA256", "ids", "idsSHA256", "rows")}
                       for sh in m["shards"]]})
    target_inputs = [{"path": str(t), "sha256": _sha(t)} if isinstance(t, (str, Path))
                     else {"path": None, "sha256": None} for t in targets]
    inputs = {
        # As `winnow select --ids STORE` records it.
        "ids": {"path": pool.stores[0], "sha256": pool.manifest_sha256[0]},
        "train": stores, "targets": target_inputs,
    }
    if groups is not None:
        inputs["targetGroups"] = ({"path": str(groups), "sha256": _sha(groups)}
                                  if isinstance(groups, (str, Path)) else {"path": None})
    return {
        "tool": "winnow.ray score-select", "inputs": inputs, "poolSize": pool.rows,
        "scoring": {"measure": measure, "checkpointWeights": weights, "skipNonFinite": skip},
        "runner": {"ray": ray.__version__, "shards": len(pool.shards),
                   "eligible": sum(s["eligible"] for s in summaries),
                   "skipped": sum(s["skipped"] for s in summaries),
                   "blas": sorted({s["blas"] for s in summaries})},
    }


def _sha(path) -> str:
    """An input's SHA-256, as the manifest records it."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
