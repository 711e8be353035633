"""NumPy peers of scoring: LESS's matching formula and TRAK-style influence,
written as a user would with NumPy, at the shapes of ScoringBench.

LESS (cosine): normalize rows of each checkpoint's train and target
features, ``S = Σ_c η_c · T̂_c V̂_cᵀ`` (N × M), mean over each subtask's
targets, then max over subtasks.
Influence: ``S = Φ (ΦᵀΦ + λI)⁻¹ Vᵀ`` by Cholesky, then the same mean/max.

Figures (rows/s): ``peer.numpy.less.cosine``, ``peer.numpy.influence``.
"""
import numpy as np

from records import Recorder, best_time, parser


def shapes(smoke):
    """(N, k, M, groups, checkpoints) for cosine, (N, k) for influence."""
    if smoke:
        return (2048, 256, 32, 4, 2), (2048, 128)
    return (32768, 8192, 256, 4, 2), (32768, 2048)


def less_scores(trains, targets, weights, groups):
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    s = None
    for t, v, wc in zip(trains, targets, w):
        tn = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-30)
        vn = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-30)
        part = np.float32(wc) * (tn @ vn.T)
        s = part if s is None else s + part
    return np.stack([s[:, groups == g].mean(axis=1) for g in np.unique(groups)], axis=1).max(axis=1)


def influence_scores(phi, v, groups, damping=1e-3):
    k = phi.shape[1]
    gram = phi.T @ phi + np.float32(damping) * np.eye(k, dtype=np.float32)
    c = np.linalg.cholesky(gram)
    x = np.linalg.solve(c.T, np.linalg.solve(c, v.T))  # (k × M)
    s = phi @ x
    return np.stack([s[:, groups == g].mean(axis=1) for g in np.unique(groups)], axis=1).max(axis=1)


def main():
    args = parser(__doc__).parse_args()
    (n, k, m, g, cps), (ni, ki) = shapes(args.smoke)
    rec = Recorder()
    rng = np.random.default_rng(2)
    groups = np.arange(m) % g
    trains = [rng.standard_normal((n, k), dtype=np.float32) for _ in range(cps)]
    targets = [rng.standard_normal((m, k), dtype=np.float32) for _ in range(cps)]
    t = best_time(lambda: less_scores(trains, targets, [1.0] * cps, groups), repeats=2)
    rec.add("peer.numpy.less.cosine", n / t, "rows/s",
            f"N={n}, k={k}, M={m} in {g} subtasks, {cps} checkpoints")
    del trains, targets
    phi = rng.standard_normal((ni, ki), dtype=np.float32)
    v = rng.standard_normal((m, ki), dtype=np.float32)
    t = best_time(lambda: influence_scores(phi, v, groups), repeats=2)
    rec.add("peer.numpy.influence", ni / t, "rows/s",
            f"N={ni}, k={ki}, M={m} in {g} subtasks, Cholesky of ΦᵀΦ + λI")
    rec.write(args.output)


if __name__ == "__main__":
    main()
