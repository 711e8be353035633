"""The linear datamodeling score (LDS; Park et al. 2023, TRAK) and its intervals.

For subsets ``S_1..S_M`` of the pool and a method's per-sample scores ``τ``,
the predicted effect of ``S_m`` is ``Σ_{i∈S_m} τ_i``; the measured effect is
the negated target loss of a model retrained on ``S_m``. LDS is the Spearman
rank correlation of the two across the ``M`` subsets, computed per retraining
seed and averaged over seeds.
"""

from __future__ import annotations

import numpy as np


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n−1, ties given their average rank."""
    x = np.asarray(x, np.float64)
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x), np.float64)
    r[order] = np.arange(len(x))
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=r)
    return sums[inv] / counts[inv]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ (Pearson correlation of the ranks); 0 when either is constant."""
    ra, rb = ranks(a), ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else 0.0


def predicted_effects(masks: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``M`` predicted effects: the sum of the scores over each subset
    (``masks`` is ``M × N`` boolean)."""
    return masks.astype(np.float64) @ np.asarray(scores, np.float64)


def lds_per_seed(pred: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """Spearman(pred, −loss) for each retraining seed; ``losses`` is ``seeds × M``."""
    return np.array([spearman(pred, -row) for row in losses])


def bootstrap_ci(pred: np.ndarray, losses: np.ndarray, reps: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the seed-averaged LDS over ``reps`` resamples
    of the ``M`` subsets (with replacement, the same resample for every seed)."""
    rng = np.random.default_rng(seed)
    M = len(pred)
    vals = np.empty(reps)
    for r in range(reps):
        ix = rng.integers(0, M, M)
        vals[r] = lds_per_seed(pred[ix], losses[:, ix]).mean()
    lo, hi = np.quantile(vals, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap_diff(pred_a: np.ndarray, pred_b: np.ndarray, losses: np.ndarray,
                   reps: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Paired difference of the seed-averaged LDS of two methods on the same
    subsets and retrains: the difference and its percentile interval over
    ``reps`` resamples of the subsets (one resample for both methods)."""
    rng = np.random.default_rng(seed)
    M = len(pred_a)
    vals = np.empty(reps)
    for r in range(reps):
        ix = rng.integers(0, M, M)
        vals[r] = (lds_per_seed(pred_a[ix], losses[:, ix]).mean()
                   - lds_per_seed(pred_b[ix], losses[:, ix]).mean())
    diff = lds_per_seed(pred_a, losses).mean() - lds_per_seed(pred_b, losses).mean()
    lo, hi = np.quantile(vals, [(1 - level) / 2, (1 + level) / 2])
    return float(diff), float(lo), float(hi)


def random_null(masks: np.ndarray, losses: np.ndarray, draws: int = 200,
                seed: int = 99) -> tuple[float, float, float]:
    """The LDS of random scores: mean and central 95 % over ``draws``
    independent random score vectors (the null band a method must leave)."""
    rng = np.random.default_rng(seed)
    vals = np.array([lds_per_seed(predicted_effects(masks, rng.normal(size=masks.shape[1])),
                                  losses).mean() for _ in range(draws)])
    lo, hi = np.quantile(vals, [0.025, 0.975])
    return float(vals.mean()), float(lo), float(hi)


def seed_ceiling(losses: np.ndarray) -> float:
    """Mean Spearman between two retraining seeds' losses across the subsets:
    how well one seed's outcome predicts another's (a ceiling for per-seed LDS
    from training noise alone; nan with one seed)."""
    S = len(losses)
    if S < 2:
        return float("nan")
    return float(np.mean([spearman(losses[a], losses[b])
                          for a in range(S) for b in range(a + 1, S)]))


def summarize(pred: np.ndarray, losses: np.ndarray, reps: int = 1000) -> dict:
    """LDS per seed, their mean, the bootstrap 95 % interval, and the LDS
    against the seed-averaged loss (TRAK's definition)."""
    per = lds_per_seed(pred, losses)
    lo, hi = bootstrap_ci(pred, losses, reps)
    return {"lds": float(per.mean()), "ci_low": lo, "ci_high": hi,
            "per_seed": [float(v) for v in per],
            "lds_seed_mean_loss": spearman(pred, -losses.mean(0))}


def per_example_lds(masks: np.ndarray, per_target: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """LDS of each target text on its own: ``per_target`` is ``N × T`` scores,
    ``losses`` ``seeds × M × T``; returns ``T`` values (Spearman per seed, mean
    over seeds)."""
    pred = masks.astype(np.float64) @ per_target.astype(np.float64)   # M × T
    return np.array([lds_per_seed(pred[:, j], losses[:, :, j]).mean()
                     for j in range(pred.shape[1])])


def t_interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % Student-t interval of the mean (the experiments' ``t975``)."""
    from winnow_experiments.report import t975  # noqa: PLC0415
    v = np.asarray(values, np.float64)
    n = len(v)
    mean = float(v.mean())
    if n < 2:
        return mean, float("nan"), float("nan")
    half = t975(n - 1) * float(v.std(ddof=1)) / np.sqrt(n)
    return mean, mean - half, mean + half


def per_example_ceiling(losses: np.ndarray) -> float:
    """``seed_ceiling`` per target text, averaged over texts."""
    return float(np.mean([seed_ceiling(losses[:, :, j]) for j in range(losses.shape[2])]))
