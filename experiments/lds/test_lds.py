"""Smoke tests of the LDS experiment (tiny sizes, well under a minute).

    python3 -m pytest experiments/lds/test_lds.py -q
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lds_model as lm  # noqa: E402
import metrics  # noqa: E402
import scores as sc  # noqa: E402


@pytest.fixture(scope="module")
def task():
    return lm.make_task(pool=120, targets=8, hidden=32)


@pytest.fixture(scope="module")
def winnow():
    try:
        w = sc.load_winnow()
        w.version()
    except Exception as e:  # the binding or its library is missing
        pytest.skip(f"Winnow binding unavailable: {e}")
    return w


def test_factor_gradients_are_the_models_gradients(task):
    model, _ = lm.train(task, None, 0, 0, epochs=1)
    X, L = task.X[:6], task.lengths[:6]
    tc, pairs, losses = lm.factors(model, X, L)
    G = lm.gradients_from_factors(tc, pairs)
    R, ref_losses = model.per_sample_grads(X, L)
    ref = np.stack([sc.linear_layout(model, r) for r in R])
    assert tc.sum() == pairs[0][0].shape[0] == pairs[1][1].shape[0]
    np.testing.assert_allclose(G, ref, atol=1e-6 * np.abs(ref).max())
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)


def test_sampled_labels_change_only_the_output_gradients(task):
    model, _ = lm.train(task, None, 0, 0, epochs=1)
    X, L = task.X[:4], task.lengths[:4]
    _, true, _ = lm.factors(model, X, L)
    _, drawn, _ = lm.factors(model, X, L, sample_labels=np.random.default_rng(0))
    np.testing.assert_array_equal(true[0][0], drawn[0][0])   # inputs are the data's
    np.testing.assert_array_equal(true[1][0], drawn[1][0])
    assert not np.allclose(true[1][1], drawn[1][1])
    np.testing.assert_allclose(drawn[1][1].sum(1), 0, atol=1e-6)  # softmax − one-hot rows


def test_retraining_is_deterministic_per_seed(task):
    sub = np.arange(0, len(task.X), 2)
    a, _ = lm.train(task, sub, 0, order_seed=3, epochs=1)
    b, _ = lm.train(task, sub, 0, order_seed=3, epochs=1)
    c, _ = lm.train(task, sub, 0, order_seed=4, epochs=1)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert lm.target_loss(a, task) == lm.target_loss(b, task)
    assert not np.array_equal(a.theta, c.theta)


def test_predicted_effect_is_the_sum_of_scores():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=50)
    masks = np.zeros((7, 50), bool)
    for j in range(7):
        masks[j, rng.choice(50, 25, replace=False)] = True
    pred = metrics.predicted_effects(masks, scores)
    for j in range(7):
        assert pred[j] == pytest.approx(scores[masks[j]].sum())


def test_spearman_and_lds():
    x = np.array([3.0, 1.0, 2.0, 5.0, 4.0])
    assert metrics.spearman(x, np.exp(x)) == pytest.approx(1.0)
    assert metrics.spearman(x, -x) == pytest.approx(-1.0)
    np.testing.assert_allclose(metrics.ranks([2.0, 1.0, 2.0]), [1.5, 0.0, 1.5])
    # textbook value: rho = 1 - 6 Σd² / (n(n²-1)) without ties
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    d = metrics.ranks(x) - metrics.ranks(y)
    assert metrics.spearman(x, y) == pytest.approx(1 - 6 * (d**2).sum() / (5 * 24))
    # LDS: a predicted effect that orders the losses exactly (loss = −pred) scores 1
    losses = np.stack([-x, -x + 0.01 * np.arange(5)])
    assert metrics.lds_per_seed(x, losses).mean() == pytest.approx(1.0)
    lo, hi = metrics.bootstrap_ci(x, losses, reps=50)
    assert lo <= hi <= 1.0 + 1e-12


def test_per_example_lds_of_an_exact_predictor_is_one():
    rng = np.random.default_rng(2)
    masks = rng.random((9, 30)) < 0.5
    per_target = rng.normal(size=(30, 4))
    pred = metrics.predicted_effects(masks, per_target)          # 9 × 4
    losses = np.stack([-pred, -2 * pred])                         # seeds × M × T
    np.testing.assert_allclose(metrics.per_example_lds(masks, per_target, losses), 1.0)
    mean, lo, hi = metrics.t_interval(np.array([0.1, 0.2, 0.3]))
    assert mean == pytest.approx(0.2) and lo < mean < hi


def test_trak_matches_its_formula_in_both_forms():
    rng = np.random.default_rng(1)
    for N, k in ((40, 10), (10, 40)):
        P = rng.normal(size=(N, k)).astype(np.float32)
        t = rng.normal(size=k).astype(np.float32)
        P64 = P.astype(np.float64)
        lam = 0.1 * (P64**2).sum() / k
        ref = P64 @ np.linalg.solve(P64.T @ P64 + lam * np.eye(k), t)
        np.testing.assert_allclose(sc.trak_scores(P, t), ref, rtol=1e-4, atol=1e-6)
        many = sc._trak_many(P, np.stack([t, 2 * t]), 0.1)
        np.testing.assert_allclose(many[:, 1], 2 * many[:, 0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(many[:, 0], ref, rtol=1e-4, atol=1e-6)


def test_factored_shape():
    for k in (16, 64, 256, 1024):
        a, b = sc.factored_shape(k)
        assert 2 * a * b == k and a <= b


def test_pipeline_numbers_are_finite(task, winnow, tmp_path):
    import run  # noqa: PLC0415
    cfg = run.Config(pool=120, targets=8, hidden=32, epochs=1, subsets=6, seeds=2,
                     ks=[16, sc.FULL], bootstrap=20, sweep_dampings=[1.0], sweep_ks=[sc.FULL])
    rows, meta, md = run.run(cfg, str(tmp_path), log=lambda *a: None, plot=False)
    methods = {r["method"] for r in rows}
    assert {"random", "grad-norm", "domain-oracle", "cosine", "less", "dot", "trak"} <= methods
    if hasattr(winnow, "Curvature"):
        assert {"kfac", "kfac-eig", "ekfac"} <= methods
    for r in rows:
        vals = [r["lds"], r["ci_low"], r["ci_high"], r["lds_seed_mean_loss"], *r["per_seed"],
                r["per_example_lds"], r["per_example_ci_low"], r["per_example_ci_high"]]
        assert np.all(np.isfinite(vals)) and all(-1 - 1e-9 <= v <= 1 + 1e-9 for v in vals)
        assert len(r["per_seed"]) == 2
    assert np.isfinite(meta["seed_ceiling"])
    for name in ("results.json", "table.csv", "table.md", "damping.csv", "damping.md"):
        assert (tmp_path / name).exists()


def test_kfac_features_are_the_damped_inverse(task, winnow):
    """Curvature.whiten's unprojected features give g_iᵀ((S+l_S)⊗(C+l_C))⁻¹g_j
    with C, S the token-averaged covariances computed here in NumPy."""
    if not hasattr(winnow, "Curvature"):
        pytest.skip("winnow.Curvature is not in this binding")
    model, _ = lm.train(task, None, 0, 0, epochs=1)
    tc, pairs, _ = lm.factors(model, task.X[:40], task.lengths[:40])
    curv = winnow.Curvature(lm.layer_dims(model))
    curv.accumulate(tc, pairs)
    curv.fit()
    Gw = lm.gradients_from_factors(tc, curv.whiten(tc, pairs, damping=0.1))
    G = lm.gradients_from_factors(tc, pairs)
    T = tc.sum()
    ref, off = [], 0
    for a, d in pairs:
        C = a.T.astype(np.float64) @ a / T
        S = d.T.astype(np.float64) @ d / T
        lc = 0.1 * np.trace(C) / len(C)
        ls = 0.1 * np.trace(S) / len(S)
        n = a.shape[1] * d.shape[1]
        g = G[:, off:off + n].reshape(-1, d.shape[1], a.shape[1]).astype(np.float64)
        Si, Ci = np.linalg.inv(S + ls * np.eye(len(S))), np.linalg.inv(C + lc * np.eye(len(C)))
        ref.append((Si @ g @ Ci).reshape(len(g), -1))
        off += n
    want = G.astype(np.float64) @ np.hstack(ref).T
    got = Gw.astype(np.float64) @ Gw.T.astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3 * np.abs(want).max())
