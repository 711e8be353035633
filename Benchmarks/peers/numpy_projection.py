"""NumPy peer of the dense projection: regenerate P in column blocks and
multiply, as TRAK's CPU projector does (``projection.dense.*.panels`` do the
same work), plus NumPy's own sgemm at the same shape.

Figures: ``peer.numpy.sgemm.projection``, ``peer.numpy.projection.<kind>``
at N × D × K, ``peer.numpy.projection.<kind>.lora`` on a slice of the
LoRA-sized D (cost is linear in D, so GFLOP/s carry over).
"""
import numpy as np

from records import Recorder, best_time, parser

BLOCK = 512  # columns of P generated at a time


def project_regenerating(x, k, kind, seed=0):
    """x (n × D) @ P (D × k) / sqrt(k), P regenerated in D × BLOCK blocks."""
    n, d = x.shape
    out = np.empty((n, k), dtype=np.float32)
    for j0 in range(0, k, BLOCK):
        w = min(BLOCK, k - j0)
        rng = np.random.default_rng((seed, j0))
        if kind == "rademacher":
            p = rng.integers(0, 2, size=(d, w), dtype=np.int8).astype(np.float32)
            p *= 2
            p -= 1
        else:
            p = rng.standard_normal(size=(d, w), dtype=np.float32)
        np.matmul(x, p, out=out[:, j0:j0 + w])
    out *= 1 / np.sqrt(k)
    return out


def main():
    args = parser(__doc__).parse_args()
    n, d, k = (32, 4096, 512) if args.smoke else (256, 65536, 8192)
    ln, ld, lk = (8, 65536, 512) if args.smoke else (32, 1 << 19, 8192)
    rec = Recorder()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, d), dtype=np.float32)
    b = rng.standard_normal((d, k), dtype=np.float32)
    flop = 2.0 * n * d * k
    t = best_time(lambda: x @ b)
    rec.add("peer.numpy.sgemm.projection", flop / t / 1e9, "GFLOP/s",
            f"np.matmul {n} × {d} times {d} × {k}")
    del b
    for kind in ("rademacher", "gaussian"):
        t = best_time(lambda: project_regenerating(x, k, kind), repeats=1, warmup=0)
        rec.add(f"peer.numpy.projection.{kind}", flop / t / 1e9, "GFLOP/s",
                f"P regenerated in {BLOCK}-column blocks every call")
    xl = rng.standard_normal((ln, ld), dtype=np.float32)
    for kind in ("rademacher", "gaussian"):
        t = best_time(lambda: project_regenerating(xl, lk, kind), repeats=1, warmup=0)
        rec.add(f"peer.numpy.projection.{kind}.lora", 2.0 * ln * ld * lk / t / 1e9, "GFLOP/s",
                f"N={ln}, K={lk}, timed on a D={ld} slice (cost linear in D)")
    rec.write(args.output)


if __name__ == "__main__":
    main()
