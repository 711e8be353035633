"""The pool a Ray job scores: feature stores read, checked and cut into shards.

A pool is one feature store per checkpoint (``winnow project --store`` or
``winnow store import``), all sharded identically: shard ``s`` of every store
holds the same samples (the same rows, the same ids). The driver reads the
manifests here to plan the shards and to record them; the workers read
features and ids through the library (``winnow.FeatureStore``), which checks
every file against its manifest and checksum.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Metadata every checkpoint's store must share: the projection of the features.
PROJECTION_KEYS = ("projector", "seed", "k", "inputDim")


class ShardError(RuntimeError):
    """A shard is missing, corrupt, or does not match its manifest."""


class PoolError(ValueError):
    """The stores, targets or parameters of a job do not fit together."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of the pool: rows ``start .. start+rows-1``, the same
    shard of every checkpoint's store (ids from the first)."""

    index: int
    start: int
    rows: int
    stores: tuple[str, ...]
    k: int


@dataclass
class Pool:
    stores: list[str]
    manifests: list[dict]
    manifest_sha256: list[str]
    shards: list[Shard] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)

    @property
    def k(self) -> int:
        return int(self.manifests[0]["metadata"]["k"])


def _load_manifest(store: str) -> tuple[dict, str]:
    path = Path(store) / "manifest.json"
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PoolError(f"{path}: cannot read the feature store manifest ({error.strerror})") from None
    try:
        manifest = json.loads(data)
        manifest["metadata"], manifest["shards"]
    except (ValueError, KeyError, TypeError):
        raise PoolError(f"{path}: malformed feature store manifest") from None
    return manifest, hashlib.sha256(data).hexdigest()


def _preconditioning(metadata: dict):
    """``(method, damping, relative)`` of a store's K-FAC / EK-FAC features
    (``metadata.preconditioner``, written by ``winnow store import
    --preconditioner``), or ``None`` for features of raw gradients."""
    p = metadata.get("preconditioner")
    return None if p is None else (p.get("method"), p.get("damping"), p.get("relativeDamping"))


def open_pool(stores: list[str]) -> Pool:
    """Reads every store's manifest and checks that they describe one pool:
    the same projection (projector kind, seed, k, D) and the same shards
    (rows and ids) in every checkpoint.

    Raises ``PoolError`` naming the store and the field that differs.
    """
    if not stores:
        raise PoolError("give at least one feature store (one per checkpoint)")
    loaded = [_load_manifest(s) for s in stores]
    manifests = [m for m, _ in loaded]
    first = manifests[0]["metadata"]
    for store, manifest in zip(stores[1:], manifests[1:]):
        for key in PROJECTION_KEYS:
            if manifest["metadata"].get(key) != first.get(key):
                raise PoolError(
                    f"{store}: projection parameter {key} = {manifest['metadata'].get(key)!r} but "
                    f"{stores[0]} has {first.get(key)!r}; every checkpoint's store must be "
                    "projected with the same projector kind, seed, k and D")
        if _preconditioning(manifest["metadata"]) != _preconditioning(first):
            raise PoolError(
                f"{store}: preconditioner {_preconditioning(manifest['metadata'])} but {stores[0]} "
                f"has {_preconditioning(first)}; every checkpoint's features must be made the same "
                "way (K-FAC / EK-FAC method and damping, or none; each checkpoint has its own fit)")
        if len(manifest["shards"]) != len(manifests[0]["shards"]):
            raise PoolError(f"{store}: {len(manifest['shards'])} shards but {stores[0]} has "
                            f"{len(manifests[0]['shards'])}; the stores must be sharded identically")
    pool = Pool(list(stores), manifests, [h for _, h in loaded])
    start = 0
    for s, base in enumerate(manifests[0]["shards"]):
        for store, manifest in zip(stores, manifests):
            shard = manifest["shards"][s]
            if shard["rows"] != base["rows"] or shard["idsSHA256"] != base["idsSHA256"]:
                raise PoolError(
                    f"{store}: shard {s} ({shard['features']}) holds {shard['rows']} rows with ids "
                    f"{shard['idsSHA256'][:12]}…, but {stores[0]} holds {base['rows']} rows with ids "
                    f"{base['idsSHA256'][:12]}…; the stores must be sharded identically")
        pool.shards.append(Shard(index=s, start=start, rows=int(base["rows"]),
                                 stores=tuple(stores), k=int(first["k"])))
        start += int(base["rows"])
    if pool.rows == 0:
        raise PoolError(f"{stores[0]}: the candidate pool is empty: nothing to score")
    return pool


def load_targets(targets, k: int) -> list[np.ndarray]:
    """The target features, one ``M x k`` float32 array per checkpoint (paths
    to ``.npy`` files or arrays), checked against the stores' ``k``."""
    arrays = []
    for c, target in enumerate(targets):
        name = str(target) if isinstance(target, (str, Path)) else f"targets[{c}]"
        array = np.load(target, mmap_mode="r") if isinstance(target, (str, Path)) else np.asarray(target)
        if array.ndim != 2 or array.dtype not in (np.float32, np.float16):
            raise PoolError(f"{name}: target features must be an M x k float32/float16 array, "
                            f"not {array.dtype} {array.shape}")
        if array.shape[1] != k:
            raise PoolError(f"{name}: target features have k = {array.shape[1]} but the feature "
                            f"stores have k = {k}; project the targets with the same projector")
        arrays.append(np.ascontiguousarray(array, dtype=np.float32))
    rows = {a.shape[0] for a in arrays}
    if len(rows) != 1:
        raise PoolError(f"the targets of the checkpoints have different row counts {sorted(rows)}")
    return arrays
