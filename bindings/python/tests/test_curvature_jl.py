"""K-FAC features after projection: the JL error statistics of DESIGN 2.1.

Two samples' whitened gradients ``G_w`` (from ``Curvature.whiten``, formed
explicitly) have cosine ``c``. Projected by a map drawn with seed ``s``,
their normalised inner product errs by ``e_s``; over many seeds ``e`` must be
unbiased, and its spread must follow the JL prediction ``sqrt((1+c^2)/k)``:
within 25 % for a dense map (1.04 here) of the flattened ``G_w`` (DESIGN 2.1 exactly),
and within a factor of 2 for the factored map (1.30 here) with the whitening folded in
(``Curvature.whitened_projector``), whose Kronecker structure makes it noisier
than a dense map of the same ``k`` (Benchmarks/README: correlation vs k).
"""

import numpy as np

import winnow

D_IN, D_OUT, RANK = 24, 16, 8
SEEDS = 200


def fitted(rng):
    curv = winnow.Curvature([(3, D_IN, D_OUT)])
    for _ in range(4):
        counts = rng.integers(2, 9, 16)
        rows = int(counts.sum())
        mix = rng.standard_normal((D_IN, D_IN)).astype(np.float32)  # correlated inputs
        curv.accumulate(counts, [(rng.standard_normal((rows, D_IN)).astype(np.float32) @ mix,
                                  rng.standard_normal((rows, D_OUT)).astype(np.float32))])
    curv.fit()
    return curv


def whitened_gradients(curv, counts, factors):
    (a, d), = curv.whiten(counts, factors, damping=0.1)
    out, row = [], 0
    for t in counts:
        out.append((d[row:row + t].T.astype(np.float64) @ a[row:row + t]).ravel())
        row += t
    return np.array(out)


def test_projected_kfac_features_follow_the_jl_error_statistics():
    rng = np.random.default_rng(4)
    curv = fitted(rng)
    counts = np.array([5, 6])
    rows = int(counts.sum())
    factors = [(rng.standard_normal((rows, D_IN)).astype(np.float32),
                rng.standard_normal((rows, D_OUT)).astype(np.float32))]
    g = whitened_gradients(curv, counts, factors)
    norms = np.linalg.norm(g, axis=1)
    c = float(g[0] @ g[1] / (norms[0] * norms[1]))
    k = RANK * RANK
    predicted = np.sqrt((1 + c * c) / k)
    dense, factored = [], []
    unit = (g / norms[:, None]).astype(np.float32)
    for seed in range(SEEDS):
        f = winnow.Projector(D_IN * D_OUT, k, seed=seed).project(unit)
        dense.append(float(f[0] @ f[1]) - c)
        p = winnow.FactoredProjector([(3, D_IN, D_OUT, RANK, RANK)], seed=seed)
        f = curv.whitened_projector(p, damping=0.1).project(counts, factors).astype(np.float64)
        factored.append(float(f[0] @ f[1]) / (norms[0] * norms[1]) - c)
    for name, errors, spread in (("dense", dense, (0.75, 1.25)), ("factored", factored, (0.5, 2.0))):
        errors = np.array(errors)
        assert abs(errors.mean()) < 4 * errors.std() / np.sqrt(SEEDS), (name, errors.mean())
        ratio = errors.std() / predicted
        assert spread[0] < ratio < spread[1], (name, ratio, c)
