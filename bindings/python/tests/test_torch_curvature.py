"""winnow.torch's K-FAC: fitting a Curvature from hook captures, and
whitened features, against an explicit NumPy computation.

The references are independent of the hooks and of the whitening code:
``C`` and ``S`` are formed in float64 from torch.func per-sample gradients'
inputs (the captured factors are checked equal to them elsewhere), their
inverse roots by ``numpy.linalg.eigh``, and each sample's whitened gradient
``M_S G_s M_C`` is projected with the extractor's own ``P_in``, ``P_out``.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (make test-torch "
                            "creates .venv-torch with the pinned version)")

import winnow  # noqa: E402
from winnow.torch import FactoredFeatures  # noqa: E402

from test_torch_features import (TinyLM, assert_rows_close, batch, lm_losses,  # noqa: E402
                                 per_sample_gradients)

torch.set_num_threads(1)


def fit_batches(seed0=10, count=3):
    """``(x, mask)`` batches with padding."""
    return [batch([7, 5, 6, 3], 7, seed=seed0 + i) for i in range(count)]


def as_kwargs(batches):
    """The batches as ``loss(x, m)`` keyword arguments plus the token mask."""
    return [{"x": x, "m": m, "mask": m} for x, m in batches]


def inverse_root(x, lam):
    e, q = np.linalg.eigh(x)
    return q @ np.diag((np.maximum(e, 0) + lam) ** -0.5) @ q.T


def explicit_covariances(fx, model, batches):
    """``(C, S)`` per layer in float64 from the captured factors."""
    sums = [[0.0, 0.0] for _ in fx.layers]
    tokens = 0
    for x, m in batches:
        cap = fx.capture(lm_losses, model, x, m, mask=m)
        tokens += int(cap.token_counts.sum())
        for l, (a, d) in enumerate(cap.factors):
            sums[l][0] = sums[l][0] + a.astype(np.float64).T @ a
            sums[l][1] = sums[l][1] + d.astype(np.float64).T @ d
    return [(c / tokens, s / tokens) for c, s in sums]


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TinyLM()


def test_fit_curvature_matches_the_covariances_of_the_captures(model):
    fx = FactoredFeatures(model, k_in=4, k_out=3, seed=5)
    batches = fit_batches()
    curv = fx.fit_curvature(lambda x, m: lm_losses(model, x, m), as_kwargs(batches))
    assert curv.phase == "fitted" and curv.samples == 12 and curv.tokens == 3 * (7 + 5 + 6 + 3)
    assert curv.layers == [(i, a, b) for i, (a, b) in zip(fx.ids, fx.dims)]
    # M_C from the library whitens the explicit C: M (C + l) M = I.
    fx.set_curvature(curv, damping=0.1)
    for l, (c, s) in enumerate(explicit_covariances(fx, model, batches)):
        m_c, m_s = fx._cache.maps[fx.ids[l]]
        lc, ls = 0.1 * np.linalg.eigvalsh(c).mean(), 0.1 * np.linalg.eigvalsh(s).mean()
        for m, x, lam in ((m_c, c, lc), (m_s, s, ls)):
            product = m.astype(np.float64) @ (x + lam * np.eye(len(x))) @ m
            np.testing.assert_allclose(product, np.eye(len(x)), atol=2e-3)


def test_whitened_features_equal_the_projected_whitened_per_sample_gradients(model):
    fx = FactoredFeatures(model, k_in=4, k_out=3, seed=5)
    batches = fit_batches()
    curv = fx.fit_curvature(lambda x, m: lm_losses(model, x, m), as_kwargs(batches))
    covariances = explicit_covariances(fx, model, batches)
    fx.set_curvature(curv, damping=0.1)
    x, m = batch([7, 4, 6], 7, seed=99)
    grads = per_sample_gradients(model, lm_losses, x, m)
    expected = []
    for l, ((name, _), bias) in enumerate(zip(fx.modules, fx.bias)):
        g = grads[f"{name}.weight"]
        if bias:
            g = torch.cat([g, grads[f"{name}.bias"][..., None]], -1)
        c, s = covariances[l]
        m_c = inverse_root(c, 0.1 * np.linalg.eigvalsh(c).mean())
        m_s = inverse_root(s, 0.1 * np.linalg.eigvalsh(s).mean())
        p_in, p_out = fx.projector.factor_matrices(l)
        gw = np.einsum("ij,sjk,kl->sil", m_s, g.double().numpy(), m_c)
        expected.append(np.einsum("ji,sjk,kl->sil", p_out, gw, p_in).reshape(len(g), -1))
    expected = np.concatenate(expected, 1).astype(np.float32)
    # Three ways: libwinnow whitening + projection on the CPU, the device
    # stage with folded matrices (factored path), and the materialized path.
    assert_rows_close(fx.project(fx.capture(lm_losses, model, x, m, mask=m)), expected, 1e-3)
    assert_rows_close(fx.features(lm_losses, model, x, m, mask=m), expected, 1e-3)
    materialized = FactoredFeatures(model, k_in=4, k_out=3, seed=5, path="materialized")
    materialized.set_curvature(curv, damping=0.1)
    assert_rows_close(materialized.features(lm_losses, model, x, m, mask=m), expected, 1e-3)
    # Plain features again after set_curvature(None).
    fx.set_curvature(None)
    plain = fx.features(lm_losses, model, x, m, mask=m)
    assert_rows_close(plain, fx.project(fx.capture(lm_losses, model, x, m, mask=m)))


def test_ekfac_features_of_a_capture_are_the_curvature_features(model, tmp_path):
    fx = FactoredFeatures(model, layers=["up", "down"], k_in=4, k_out=3)
    batches = fit_batches(count=2)
    seen = []
    curv = fx.fit_curvature(lambda x, m: lm_losses(model, x, m), batches, ekfac=True,
                            progress=lambda name, n: seen.append((name, n)))
    assert curv.correction_samples == 8 and seen[-1] == ("corrections", 8)
    fx.set_curvature(curv)
    cap = fx.capture(lm_losses, model, *batch([5, 7], 7, seed=3))
    f = fx.curvature_features(cap, "ekfac")
    assert f.shape == (2, sum(a * b for a, b in fx.dims))
    np.testing.assert_array_equal(f, curv.features(cap.token_counts, cap.factors, "ekfac"))
    curv.save(tmp_path / "fit.wnkfac")
    again = winnow.Curvature.load(tmp_path / "fit.wnkfac")
    np.testing.assert_array_equal(again.features(cap.token_counts, cap.factors, "ekfac"), f)


def test_curvature_errors_are_clear(model):
    fx = FactoredFeatures(model, layers=["up", "down"])
    loss = lambda x, m: lm_losses(model, x, m)  # noqa: E731
    with pytest.raises(ValueError, match="twice"):
        fx.fit_curvature(loss, (b for b in fit_batches()), ekfac=True)
    with pytest.raises(ValueError, match="no samples"):
        fx.fit_curvature(loss, [])
    with pytest.raises(RuntimeError, match="set_curvature"):
        fx.curvature_features(fx.capture(loss, *batch([3], 3)))
    other = FactoredFeatures(model, layers=["up"])
    curv = other.fit_curvature(loss, fit_batches(count=1))
    with pytest.raises(ValueError, match="other layers"):
        fx.set_curvature(curv)


def test_ekfac_for_some_layers_and_kfac_for_the_rest(model):
    fx = FactoredFeatures(model, layers=["up", "down", "head"], k_in=4, k_out=3)
    loss = lambda x, m: lm_losses(model, x, m)  # noqa: E731
    curv = fx.fit_curvature(loss, fit_batches(count=2), ekfac=["up", "do*"])
    up, down = fx.dims[0], fx.dims[1]
    fx.set_curvature(curv)
    cap = fx.capture(lm_losses, model, *batch([5, 7], 7, seed=3))
    small = fx.curvature_features(cap, "ekfac", layers=["up", "down"])
    assert small.shape == (2, up[0] * up[1] + down[0] * down[1])
    everything = fx.curvature_features(cap, "kfac")
    np.testing.assert_array_equal(fx.curvature_features(cap, "kfac", layers="head"),
                                  everything[:, small.shape[1]:])
    with pytest.raises(winnow.BadStateError, match="left out"):
        fx.curvature_features(cap, "ekfac")  # head has no corrections
    with pytest.raises(ValueError, match="matches none"):
        fx.fit_curvature(loss, fit_batches(count=1), ekfac="nope*")
