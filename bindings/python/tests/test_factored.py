"""The factored path through the binding: FactoredProjector against an
independent NumPy materialize-then-project, ghost dot products against
explicit gradient dot products, determinism across batch composition, the
engine fed with factors, and errors raised as WinnowError."""

import numpy as np
import pytest

import winnow

LAYERS = [(11, 6, 5, 3, 4), (12, 9, 7, 5, 2)]  # (id, d_in, d_out, k_in, k_out)


def random_batch(rng, token_counts, layers=LAYERS, dtype=np.float32):
    rows = int(sum(token_counts))
    return [(rng.standard_normal((rows, d_in)).astype(dtype),
             rng.standard_normal((rows, d_out)).astype(dtype))
            for _, d_in, d_out, _, _ in layers]


def gradients(token_counts, factors):
    """Per sample, per layer, the explicit G = D.T @ A (d_out x d_in)."""
    starts = np.concatenate([[0], np.cumsum(token_counts)])
    return [[d[starts[s]:starts[s + 1]].T.astype(np.float64) @ a[starts[s]:starts[s + 1]]
             for a, d in factors] for s in range(len(token_counts))]


def kronecker_factors(projector, layer):
    """Recovers P_in and P_out of one layer up to a shared scale, from the
    projections of unit gradients e_j e_i^T (one token each: A = e_i, D = e_j).

    Returns (P_out, P_in) with P_out^T G P_in equal to the layer's features.
    """
    layer_id, d_in, d_out, k_in, k_out = projector.layers[layer]
    pairs = [(j, i) for j in range(d_out) for i in range(d_in)]
    factors = []
    for l, (_, di, do, _, _) in enumerate(projector.layers):
        if l == layer:
            factors.append((np.eye(di, dtype=np.float32)[[i for _, i in pairs]],
                            np.eye(do, dtype=np.float32)[[j for j, _ in pairs]]))
        else:
            factors.append((np.zeros((len(pairs), di), np.float32),
                            np.zeros((len(pairs), do), np.float32)))
    f = projector.project([1] * len(pairs), factors)
    start = projector.offsets[layer]
    k = f[:, start:start + k_out * k_in].reshape(d_out, d_in, k_out, k_in).astype(np.float64)
    # K[j, i, a, b] = P_out[j, a] P_in[i, b]: a rank-one (Kronecker) structure.
    p_out, p_in = k[:, 0, :, 0], k[0, :, 0, :] / k[0, 0, 0, 0]
    np.testing.assert_allclose(np.einsum("ja,ib->jiab", p_out, p_in), k, atol=1e-6)
    return p_out, p_in


def test_projection_equals_materialize_then_project_with_the_same_kronecker_matrices():
    rng = np.random.default_rng(0)
    p = winnow.FactoredProjector(LAYERS, seed=5)
    assert p.feature_dim == 3 * 4 + 5 * 2 and p.offsets.tolist() == [0, 12]
    token_counts = [4, 0, 1, 9]
    factors = random_batch(rng, token_counts)
    features = p.project(token_counts, factors)
    assert features.shape == (4, p.feature_dim) and features.dtype == np.float32
    assert not features[1].any()  # no tokens, zero gradient
    for l, (_, _, _, k_in, k_out) in enumerate(LAYERS):
        p_out, p_in = kronecker_factors(p, l)
        # Rademacher entries: every product is +-1/sqrt(k_in k_out).
        np.testing.assert_allclose(np.abs(np.einsum("ja,ib->jiab", p_out, p_in)),
                                   1 / np.sqrt(k_in * k_out), rtol=1e-5)
        for s, per_layer in enumerate(gradients(token_counts, factors)):
            expected = (p_out.T @ per_layer[l] @ p_in).ravel()
            got = features[s, p.offsets[l]:p.offsets[l] + k_out * k_in]
            scale = max(np.linalg.norm(expected), 1e-30)
            assert np.linalg.norm(got - expected) / scale < 1e-4 or not expected.any()


def test_half_precision_factors_match_their_float_values():
    rng = np.random.default_rng(1)
    p = winnow.FactoredProjector(LAYERS, seed=2, kind="gaussian")
    token_counts = [3, 5]
    halves = random_batch(rng, token_counts, dtype=np.float16)
    floats = [(a.astype(np.float32), d.astype(np.float32)) for a, d in halves]
    np.testing.assert_allclose(p.project(token_counts, halves), p.project(token_counts, floats),
                               rtol=1e-5, atol=1e-5)


def test_layers_by_id_in_any_order_equal_layer_order():
    rng = np.random.default_rng(2)
    p = winnow.FactoredProjector(LAYERS, seed=9)
    token_counts = [2, 6]
    factors = random_batch(rng, token_counts)
    by_id = {12: factors[1], 11: factors[0]}
    np.testing.assert_array_equal(p.project(token_counts, by_id), p.project(token_counts, factors))


def test_features_do_not_depend_on_batch_composition():
    rng = np.random.default_rng(3)
    p = winnow.FactoredProjector(LAYERS, seed=4)
    token_counts = [5, 1, 7, 3]
    factors = random_batch(rng, token_counts)
    whole = p.project(token_counts, factors)
    starts = np.concatenate([[0], np.cumsum(token_counts)])
    for samples in ([2], [3, 0], [1, 2, 0, 3]):
        rows = np.concatenate([np.arange(starts[s], starts[s + 1]) for s in samples])
        sub = p.project([token_counts[s] for s in samples], [(a[rows], d[rows]) for a, d in factors])
        np.testing.assert_allclose(sub, whole[samples], rtol=1e-5, atol=1e-6)
    again = winnow.FactoredProjector(LAYERS, seed=4).project(token_counts, factors)
    np.testing.assert_array_equal(again, whole)


@pytest.mark.parametrize("path", ["auto", "ghost", "materialized"])
def test_ghost_gram_equals_explicit_gradient_dot_products(path):
    rng = np.random.default_rng(4)
    token_counts = [3, 8, 0, 2, 5]
    factors = random_batch(rng, token_counts)
    gram, paths = winnow.ghost_gram(token_counts, factors, path=path, with_paths=True)
    g = gradients(token_counts, factors)
    exact = np.array([[sum(np.sum(gi * gj) for gi, gj in zip(g[i], g[j]))
                       for j in range(5)] for i in range(5)])
    assert np.linalg.norm(gram - exact) / np.linalg.norm(exact) < 1e-4
    assert len(paths) == 2 and (path == "auto" or paths == [path, path])


def test_ghost_target_dots_equal_explicit_dot_products_for_both_target_forms():
    rng = np.random.default_rng(5)
    token_counts = [4, 1, 6]
    factors = random_batch(rng, token_counts)
    target = random_batch(rng, [7])
    g = gradients(token_counts, factors)
    gt = gradients([7], target)[0]
    exact = np.array([sum(np.sum(gi * t) for gi, t in zip(g[s], gt)) for s in range(3)])
    mixed = [target[0], gt[1].astype(np.float32)]  # factors for layer 0, explicit for layer 1
    for targets in (target, [x.astype(np.float32) for x in gt], mixed):
        for path in ("auto", "ghost", "materialized"):
            dots = winnow.ghost_target_dots(token_counts, factors, [tuple(t) if isinstance(
                t, tuple) else t for t in targets], path=path)
            assert np.linalg.norm(dots - exact) / np.linalg.norm(exact) < 1e-4


def test_projected_inner_products_approximate_exact_ones():
    rng = np.random.default_rng(6)
    layers = [(1, 48, 40, 16, 16)]
    p = winnow.FactoredProjector(layers, seed=1)
    token_counts = [12] * 40
    # A shared direction with a per-sample sign and size makes the gradients
    # correlated, as real ones are: <G_i, G_j> spreads over both signs.
    shared_a, shared_d = rng.standard_normal(48), rng.standard_normal(40)
    rows = sum(token_counts)
    per_sample = np.repeat(rng.standard_normal(40), 12)[:, None]
    a = (shared_a + 0.5 * rng.standard_normal((rows, 48))).astype(np.float32)
    d = (per_sample * shared_d + 0.5 * rng.standard_normal((rows, 40))).astype(np.float32)
    exact = winnow.ghost_gram(token_counts, [(a, d)])
    f = p.project(token_counts, [(a, d)]).astype(np.float64)
    projected = f @ f.T
    upper = np.triu_indices(40, 1)
    correlation = np.corrcoef(exact[upper], projected[upper])[0, 1]
    print(f"\nprojected vs exact inner products (k = 256 of 1920): r = {correlation:.3f}")
    assert correlation > 0.9, correlation


def test_engine_fed_with_factors_equals_engine_fed_with_their_features():
    rng = np.random.default_rng(7)
    p = winnow.FactoredProjector(LAYERS, seed=3)
    ids = np.arange(30) * 2
    token_counts = rng.integers(1, 6, size=30)
    factors = random_batch(rng, token_counts)
    target_counts = [4, 2]
    target = random_batch(rng, target_counts)
    features = p.project(token_counts, factors)
    target_features = p.project(target_counts, target)

    by_factors = winnow.Engine(ids, feature_dim=p.feature_dim, select_fraction=0.2)
    by_factors.begin_epoch(0)
    by_factors.add_target_factors(0, p, target_counts, target)
    by_factors.add_candidate_factors(ids[:10], p, token_counts[:10],
                                     [(a[:token_counts[:10].sum()], d[:token_counts[:10].sum()])
                                      for a, d in factors])
    rest = slice(token_counts[:10].sum(), None)
    by_factors.add_candidate_factors(ids[10:], p, token_counts[10:],
                                     [(a[rest], d[rest]) for a, d in factors])
    by_features = winnow.Engine(ids, feature_dim=p.feature_dim, select_fraction=0.2)
    by_features.begin_epoch(0)
    by_features.add_target(0, target_features)
    by_features.add_candidates(ids, features)
    assert by_factors.end_epoch().ids.tolist() == by_features.end_epoch().ids.tolist()
    np.testing.assert_allclose(by_factors.scores(), by_features.scores(), rtol=1e-5, atol=1e-6)


def test_step_mode_from_factors_picks_as_from_the_equivalent_features():
    rng = np.random.default_rng(8)
    p = winnow.FactoredProjector(LAYERS, seed=6)
    token_counts = rng.integers(1, 8, size=24)
    factors = random_batch(rng, token_counts)
    target = random_batch(rng, [9])
    features = p.project(token_counts, factors)
    t = p.project([9], target)[0]
    expected = winnow.select_step(features, t, 6, 0.05)
    free = winnow.select_step_factors(p, token_counts, factors, target, 6, 0.05)
    engine = winnow.Engine(np.arange(5), feature_dim=p.feature_dim)
    bound = engine.select_step_factors(p, token_counts, factors, target, 6, 0.05)
    assert free.indices.tolist() == expected.indices.tolist() == bound.indices.tolist()


def test_errors_are_winnow_errors():
    rng = np.random.default_rng(9)
    p = winnow.FactoredProjector(LAYERS, seed=1)
    factors = random_batch(rng, [2, 3])
    with pytest.raises(winnow.WinnowError) as info:  # token counts vs rows
        p.project([2, 2], factors)
    assert info.value.status == -2 and "total_tokens" in info.value.message
    with pytest.raises(winnow.WinnowError) as info:  # wrong d_in
        p.project([2, 3], [(factors[0][0][:, :5], factors[0][1]), factors[1]])
    assert info.value.status == -2 and "d_in = 6" in info.value.message
    with pytest.raises(winnow.WinnowError) as info:  # unknown id
        p.project([2, 3], {11: factors[0], 99: factors[1]})
    assert info.value.status == -1 and "99" in info.value.message
    with pytest.raises(winnow.WinnowError) as info:  # a layer missing
        p.project([2, 3], factors[:1])
    assert info.value.status == -1
    with pytest.raises(winnow.WinnowError) as info:  # negative token count
        p.project([-1, 6], factors)
    assert info.value.status == -1
    bad = factors[1][0].copy()
    bad[3, 2] = np.nan
    with pytest.raises(winnow.WinnowError) as info:
        p.project([2, 3], [factors[0], (bad, factors[1][1])])
    assert info.value.status == -3
    with pytest.raises(winnow.WinnowError) as info:
        winnow.ghost_gram([2, 3], [factors[0], (bad, factors[1][1])])
    assert info.value.status == -3
    with pytest.raises(winnow.WinnowError) as info:
        winnow.ghost_gram([4], factors)
    assert info.value.status == -2
    with pytest.raises(winnow.WinnowError) as info:
        winnow.ghost_target_dots([2, 3], factors, [np.zeros((5, 6)), np.zeros((6, 9))])
    assert info.value.status == -2
    with pytest.raises(winnow.WinnowError) as info:  # duplicate ids
        winnow.FactoredProjector([(1, 4, 4, 2, 2), (1, 4, 4, 2, 2)])
    assert info.value.status == -1
    with pytest.raises(winnow.WinnowError) as info:  # zero rank
        winnow.FactoredProjector([(1, 4, 4, 0, 2)])
    assert info.value.status == -1
    engine = winnow.Engine(np.arange(5), feature_dim=p.feature_dim + 1)
    engine.begin_epoch(0)
    with pytest.raises(winnow.WinnowError) as info:  # feature dims disagree
        engine.add_target_factors(0, p, [2, 3], factors)
    assert info.value.status == -2 and "feature dim" in info.value.message
    with pytest.raises(winnow.WinnowError) as info:
        engine.select_step_factors(p, [2, 3], factors, random_batch(rng, [1]), 1)
    assert info.value.status == -2
    with pytest.raises(winnow.WinnowError) as info:  # keep out of range
        winnow.select_step_factors(p, [2, 3], factors, random_batch(rng, [1]), 3)
    assert info.value.status == -1
