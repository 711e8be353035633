"""What runs on the Ray workers: score one shard, then answer the driver's
questions about its scores (histograms of the order, the rows above a cut).

Each function is plain Python over NumPy and the binding (which reads the
stores and scores), so it can be tested without Ray; ``winnow.ray`` wraps
them as remote tasks. A shard's
scores stay in the worker's object store between rounds (4 bytes a row).
"""

from __future__ import annotations

import os
import socket

import numpy as np

from ._stores import Shard, ShardError


def _where(shard: Shard, path: str) -> str:
    return f"shard {shard.index} (rows {shard.start}..{shard.start + shard.rows - 1}) of {path}"


def _open(store: str, shard: Shard, verify: str):
    """Shard ``shard.index`` of ``store``, opened by the library (which checks
    the files' shapes against the manifest and, with ``verify``, their
    checksums while the rows are read)."""
    from winnow import FeatureStore, WinnowError

    try:
        opened = FeatureStore(store, shard=shard.index, verify=verify)
    except WinnowError as error:
        raise ShardError(f"{_where(shard, store)}: {error}") from None
    if (opened.rows, opened.k) != (shard.rows, shard.k):
        opened.close()
        raise ShardError(f"{_where(shard, store)}: holds {opened.rows} x {opened.k} rows; the "
                         f"first store's manifest says {shard.rows} x {shard.k}")
    return opened


def score_shard(shard: Shard, targets, weights, groups, measure: str, skip_nonfinite: bool,
                verify: bool, block_rows: int, crash_marker: str | None = None):
    """Scores every row of ``shard``: returns ``(summary, scores)``.

    Each checkpoint's shard is read through the library ``block_rows`` rows
    at a time, its SHA-256 computed as the rows stream past (``verify``) and
    checked when the last block is read, so memory is bounded by one block
    of every checkpoint plus 4 bytes a row, and the shard is read once.
    ``crash_marker`` is a test hook: the first attempt (while the marker
    file does not exist) creates it and kills its worker process midway.
    """
    from winnow import Scorer, WinnowError, blas_core_name

    stores = [_open(path, shard, "while-reading" if verify else "none") for path in shard.stores]
    scores = np.empty(shard.rows, dtype=np.float32)
    blocks = [np.empty((min(block_rows, shard.rows), shard.k), dtype=np.float32) for _ in stores]
    with Scorer(targets, weights=weights, groups=groups, measure=measure,
                skip_nonfinite=skip_nonfinite) as scorer:
        skipped = 0
        for b0 in range(0, shard.rows, block_rows):
            b1 = min(shard.rows, b0 + block_rows)
            if crash_marker and b0 > 0 and not os.path.exists(crash_marker):
                open(crash_marker, "w").close()
                os._exit(17)  # the worker dies mid-shard; Ray retries the task
            for store, block, path in zip(stores, blocks, shard.stores):
                try:
                    store.read(b0, b1 - b0, out=block[:b1 - b0])
                except WinnowError as error:
                    raise ShardError(f"{_where(shard, path)}: {error}") from None
            try:
                scorer.score([block[:b1 - b0] for block in blocks], out=scores[b0:b1])
            except Exception as error:
                raise ShardError(f"shard {shard.index} ({shard.stores[0]}), rows "
                                 f"{shard.start + b0}..{shard.start + b1 - 1} of the pool: {error}") from None
            skipped += scorer.last_skipped
    for store, path in zip(stores, shard.stores):
        try:
            store.finish_verification()
        except WinnowError as error:
            raise ShardError(f"{_where(shard, path)}: {error}") from None
        store.close()
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


def collect(scores: np.ndarray, shard: Shard, cut: float, ties: int | None):
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
    with _open(shard.stores[0], shard, "none") as store:  # verified while scoring
        ids = store.ids()
    return {
        "shard": shard.index,
        "rows": (local + shard.start).astype(np.int64),
        "scores": scores[local],
        "ids": np.asarray(ids[local], dtype=np.int64),
    }
