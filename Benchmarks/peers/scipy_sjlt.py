"""SciPy peer of the sparse JL projection: the same map (same seed, buckets
and signs, from an independent NumPy port of the counter hash) built as a
``scipy.sparse`` CSR matrix ``S`` (``D x k``, ``s`` nonzeros a row), then
``X @ S`` for ``N x D`` gradients — what a Python user would write.

Figures: ``peer.scipy.sjlt.s1`` GB/s of gradient read by the product at
N = 8, D = 2**27, k = 8192 (the build of ``S`` is timed apart, in the note),
beside Winnow's ``projection.sjlt.s1``. When the binding loads, the peer's
features are checked against Winnow's on a slice (same sketch, same sums up
to rounding).
"""
import os
import sys
import time

import numpy as np

from records import Recorder, best_time, parser

HERE = os.path.dirname(os.path.abspath(__file__))
M = np.uint64


def mix64(z):
    z = (z ^ (z >> M(30))) * M(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> M(27))) * M(0x94D049BB133111EB)
    return z ^ (z >> M(31))


def sketch_matrix(seed, d, k, s, chunk=1 << 22):
    """The D x k CSR matrix of the map, hashed in chunks of coordinates."""
    import scipy.sparse as sp

    indices = np.empty(d * s, dtype=np.int32)
    data = np.empty(d * s, dtype=np.float32)
    with np.errstate(over="ignore"):
        key = mix64(np.array([seed], dtype=np.uint64) ^ M(0xBB67AE8584CAA73B))
        for c0 in range(0, d, chunk):
            i = np.arange(c0, min(d, c0 + chunk), dtype=np.uint64)
            rk = mix64(key + (i + M(1)) * M(0xD1B54A32D192ED03))
            for t in range(s):
                w = mix64(rk + M(t + 1) * M(0x9E3779B97F4A7C15))
                lo, width = t * k // s, (t + 1) * k // s - t * k // s
                h = (lo + (((w >> M(32)) * M(width)) >> M(32))).astype(np.int32)
                rows = slice(c0 * s + t, min(d, c0 + chunk) * s, s)
                indices[rows] = h
                data[rows] = np.where(w & M(1), -1.0, 1.0).astype(np.float32) / np.float32(np.sqrt(s))
    indptr = np.arange(0, d * s + 1, s, dtype=np.int64)
    return sp.csr_matrix((data, indices, indptr), shape=(d, k))


def check_against_winnow(seed, k, s):
    """The peer's map equals Winnow's on a slice (None when the binding is absent)."""
    sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
    try:
        import winnow
    except Exception:  # noqa: BLE001 - the library may not be built
        return None
    d = 1 << 16
    x = np.random.default_rng(0).standard_normal((4, d)).astype(np.float32)
    ours = winnow.SparseProjector(d, k, nnz=s, seed=seed).project(x)
    theirs = np.asarray(x @ sketch_matrix(seed, d, k, s))
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


def main():
    args = parser(__doc__).parse_args()
    try:
        import scipy
    except ImportError:
        print("scipy is not installed: the SciPy SJLT peer is skipped")
        Recorder().write(args.output)
        return
    n, d, k, s, seed = (8, 1 << 20, 512, 1, 1) if args.smoke else (8, 1 << 27, 8192, 1, 1)
    rec = Recorder()
    err = check_against_winnow(seed, k, s)
    if err is not None and err > 1e-4:
        raise SystemExit(f"the SciPy sketch differs from Winnow's: relative error {err}")
    t0 = time.perf_counter()
    sketch = sketch_matrix(seed, d, k, s)
    build = time.perf_counter() - t0
    x = np.empty((n, d), dtype=np.float32)
    rng = np.random.default_rng(5)
    for r in range(n):
        x[r] = rng.standard_normal(d, dtype=np.float32)
    t = best_time(lambda: x @ sketch, repeats=2, warmup=1)
    rec.add(f"peer.scipy.sjlt.s{s}", n * d * 4 / t / 1e9, "GB/s",
            note=f"scipy {scipy.__version__} CSR, N={n}, D={d}, k={k}: {t:.2f} s per product, "
                 f"{build:.1f} s to build S"
                 + ("" if err is None else f"; matches Winnow to {err:.1e}"))
    rec.write(args.output)


if __name__ == "__main__":
    main()
