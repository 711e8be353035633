"""What runs on the Ray workers: score one shard, then answer the driver's
questions about its scores (histograms of the order, the rows above a cut).

Each function is plain Python over NumPy and the binding, so it can be
tested without Ray; ``winnow.ray`` wraps them as remote tasks. A shard's
scores stay in the worker's object store between rounds (4 bytes a row).
"""

from __future__ import annotations

import os
import socket

import numpy as np

from ._stores import Shard, ShardError, sha256_file


def _open_shard_file(path: str, sha256: str, verify: bool, shard: Shard) -> np.ndarray:
    where = f"shard {shard.index} (rows {shard.start}..{shard.start + shard.rows - 1})"
    if not os.path.exists(path):
        raise ShardError(f"{path}: missing: {where} is listed in its store's manifest "
                         "but the file is not there")
    if verify:
        got = sha256_file(path)
        if got != sha256:
            raise ShardError(f"{path}: checksum mismatch in {where}: the manifest records SHA-256 "
                             f"{sha256}, the file has {got}; the shard was changed or corrupted")
    try:
        return np.load(path, mmap_mode="r")
    except (ValueError, OSError) as error:
        raise ShardError(f"{path}: unreadable .npy in {where}: {error}") from None


def score_shard(shard: Shard, targets, weights, groups, measure: str, skip_nonfinite: bool,
                verify: bool, block_rows: int, crash_marker: str | None = None):
    """Scores every row of ``shard``: returns ``(summary, scores)``.

    Features are memory-mapped and scored ``block_rows`` rows at a time, so
    memory is bounded by one block of every checkpoint plus 4 bytes a row.
    ``crash_marker`` is a test hook: the first attempt (while the marker
    file does not exist) creates it and kills its worker process midway.
    """
    from winnow import Scorer, blas_core_name

    arrays = []
    for f in shard.features:
        a = _open_shard_file(f.path, f.sha256, verify, shard)
        if a.shape != (shard.rows, shard.k) or a.dtype.str != shard.dtype:
            raise ShardError(f"{f.path}: shard holds {a.dtype.str} {list(a.shape)}; the manifest "
                             f"says {shard.dtype} {[shard.rows, shard.k]}")
        arrays.append(a)
    ids = _open_shard_file(shard.ids.path, shard.ids.sha256, verify, shard)
    if ids.shape != (shard.rows,) or ids.dtype.str != "<i8":
        raise ShardError(f"{shard.ids.path}: ids hold {ids.dtype.str} {list(ids.shape)}, "
                         f"expected <i8 [{shard.rows}]")
    scores = np.empty(shard.rows, dtype=np.float32)
    with Scorer(targets, weights=weights, groups=groups, measure=measure,
                skip_nonfinite=skip_nonfinite) as scorer:
        skipped = 0
        for b0 in range(0, shard.rows, block_rows):
            b1 = min(shard.rows, b0 + block_rows)
            if crash_marker and b0 > 0 and not os.path.exists(crash_marker):
                open(crash_marker, "w").close()
                os._exit(17)  # the worker dies mid-shard; Ray retries the task
            try:
                scorer.score([a[b0:b1] for a in arrays], out=scores[b0:b1])
            except Exception as error:
                raise ShardError(f"shard {shard.index} ({shard.features[0].path}), rows "
                                 f"{shard.start + b0}..{shard.start + b1 - 1} of the pool: {error}") from None
            skipped += scorer.last_skipped
    summary = {
        "shard": shard.index, "start": shard.start, "rows": shard.rows,
        "eligible": int(np.count_nonzero(np.isfinite(scores))), "skipped": skipped,
        "host": socket.gethostname(), "pid": os.getpid(), "blas": blas_core_name(),
    }
    return summary, scores


def order_keys(scores: np.ndarray) -> np.ndarray:
    """``uint32`` keys in the order of the (finite) scores: ``-0.0`` and
    ``0.0`` share a key, as they compare equal in ``winnow select``."""
    bits = (scores + np.float32(0)).view(np.uint32)
    negative = (bits >> 31).astype(bool)
    return np.where(negative, ~bits, bits | np.uint32(0x80000000)).astype(np.uint32)


def key_histogram(scores: np.ndarray, shift: int, prefix: int) -> np.ndarray:
    """Counts of the finite scores' keys by byte ``(key >> shift) & 255``,
    among keys whose higher bits ``key >> (shift + 8)`` equal ``prefix``."""
    keys = order_keys(scores[np.isfinite(scores)])
    if shift < 24:
        keys = keys[(keys >> np.uint32(shift + 8)) == np.uint32(prefix)]
    return np.bincount((keys >> np.uint32(shift)) & np.uint32(255), minlength=256).astype(np.int64)


def collect(scores: np.ndarray, shard: Shard, cut: float, ties: int | None, verify: bool):
    """The rows of the shard above ``cut`` plus, with ``ties`` set, its first
    ``ties`` rows equal to ``cut`` (by index); with ``ties`` None every row
    ``>= cut``. Returns global row indices, scores and sample ids."""
    cut = np.float32(cut)
    if ties is None:
        local = np.flatnonzero(scores >= cut)
    else:
        above = np.flatnonzero(scores > cut)
        equal = np.flatnonzero(scores == cut)[:ties]
        local = np.concatenate([above, equal])
    ids = np.load(shard.ids.path, mmap_mode="r")
    return {
        "shard": shard.index,
        "rows": (local + shard.start).astype(np.int64),
        "scores": scores[local],
        "ids": np.asarray(ids[local], dtype=np.int64),
    }
