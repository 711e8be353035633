#!/usr/bin/env python3
"""Winnow's main job on generated data: project a gradient dump, check JL fidelity.

Generates per-sample "gradients" (N × D, float32) with a planted structure,
projects them with `winnow project`, and compares inner products before and
after projection against the Johnson–Lindenstrauss prediction
sd ≈ √((1 + ⟨x,y⟩²)/k) for unit vectors.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np


def run(cmd):
    print("$", " ".join(cmd), flush=True)
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--winnow", default="winnow", help="path of the winnow executable")
    ap.add_argument("--out", default="demo-out", help="working folder")
    ap.add_argument("--n", type=int, default=4096, help="pool size")
    ap.add_argument("--d", type=int, default=65536, help="gradient dimension")
    ap.add_argument("--k", type=int, default=1024, help="projected dimension")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(0)

    print(f"== generating {args.n} gradients of dimension {args.d}")
    # Low-rank signal plus noise, like real per-sample gradients.
    basis = rng.standard_normal((32, args.d)).astype(np.float32)
    g = rng.standard_normal((args.n, 32)).astype(np.float32) @ basis
    g += 0.5 * rng.standard_normal((args.n, args.d)).astype(np.float32)
    grads = os.path.join(args.out, "grads.npy")
    np.save(grads, g)
    print(f"   {g.nbytes / 2**20:.0f} MiB at {grads}")

    feats = os.path.join(args.out, "features.npy")
    t = run([args.winnow, "project", "--input", grads, "--output", feats,
             "--dim", str(args.k), "--seed", "0", "--memory-budget", "256M"])
    f = np.load(feats)
    print(f"   projected {g.shape} -> {f.shape} in {t:.2f} s")

    print("== JL fidelity on unit-normalized pairs")
    gn = g / np.linalg.norm(g, axis=1, keepdims=True)
    i, j = rng.integers(0, args.n, 2000), rng.integers(0, args.n, 2000)
    exact = np.einsum("ij,ij->i", gn[i], gn[j])
    scale = np.linalg.norm(g, axis=1)
    fi, fj = f[i] / scale[i, None], f[j] / scale[j, None]
    err = np.einsum("ij,ij->i", fi, fj) - exact
    predicted = np.sqrt((1 + exact**2) / args.k)
    print(f"   inner-product error: mean {err.mean():+.5f}, sd {err.std():.5f}; "
          f"JL predicts sd {np.sqrt(np.mean(predicted**2)):.5f}")
    corr = np.corrcoef(exact, exact + err)[0, 1]
    print(f"   correlation of projected vs exact inner products: {corr:.4f}")
    ok = abs(err.std() / np.sqrt(np.mean(predicted**2)) - 1) < 0.2
    print("   fidelity:", "as predicted" if ok else "OFF — please report")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
