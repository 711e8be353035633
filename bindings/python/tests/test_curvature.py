"""winnow.Curvature (K-FAC / EK-FAC, DESIGN 2.9) against an independent
float64 NumPy reference: the whitening identity, K-FAC and EK-FAC eigenbasis
features against explicit (H + damping)^-1, dict input, determinism across
batch composition, save/load in every phase, corrupt files, and the errors
each misuse raises."""

import os

import numpy as np
import pytest

import winnow

LAYERS = [(7, 5, 3), (9, 4, 6)]  # (id, d_in, d_out)


def random_batch(rng, token_counts, layers=LAYERS):
    rows = int(sum(token_counts))
    return [(rng.standard_normal((rows, d_in)).astype(np.float32),
             rng.standard_normal((rows, d_out)).astype(np.float32))
            for _, d_in, d_out in layers]


def gradients(token_counts, factors):
    """Per sample, per layer, G = D.T @ A (d_out x d_in) in float64."""
    starts = np.concatenate([[0], np.cumsum(token_counts)]).astype(int)
    return [[d[starts[s]:starts[s + 1]].T.astype(np.float64) @ a[starts[s]:starts[s + 1]]
             for a, d in factors] for s in range(len(token_counts))]


def inv_root(x, lam):
    e, q = np.linalg.eigh(x)
    return q @ np.diag((np.maximum(e, 0) + lam) ** -0.5) @ q.T


class Fit:
    """A curvature fitted on three batches, with the float64 reference."""

    def __init__(self, seed=0, corrections=True):
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.batches = []
        for _ in range(3):
            counts = rng.integers(1, 5, 10)
            self.batches.append((counts, random_batch(rng, counts)))
        self.curv = winnow.Curvature(LAYERS)
        for counts, f in self.batches:
            self.curv.accumulate(counts, f)
        self.curv.fit()
        if corrections:
            for counts, f in self.batches:
                self.curv.accumulate_corrections(counts, f)
        self.tokens = int(sum(c.sum() for c, _ in self.batches))
        self.C = [sum(f[l][0].astype(np.float64).T @ f[l][0] for _, f in self.batches) / self.tokens
                  for l in range(len(LAYERS))]
        self.S = [sum(f[l][1].astype(np.float64).T @ f[l][1] for _, f in self.batches) / self.tokens
                  for l in range(len(LAYERS))]
        self.fit_gradients = [g for c, f in self.batches for g in gradients(c, f)]

    def hessian(self, l, method, damping, absolute=False):
        """The explicit (H + lambda I) of layer l, d_out*d_in square, row-major vec."""
        e_c, q_c = np.linalg.eigh(self.C[l])
        e_s, q_s = np.linalg.eigh(self.S[l])
        if method == "kfac":
            lam_matrix = np.outer(np.maximum(e_s, 0), np.maximum(e_c, 0))
        else:
            lam_matrix = np.mean([(q_s.T @ g[l] @ q_c) ** 2 for g in self.fit_gradients], axis=0)
        lam = damping if absolute else damping * lam_matrix.mean()
        q = np.kron(q_s, q_c)
        return q @ np.diag((lam_matrix + lam).ravel()) @ q.T


def rel(x, y):
    return np.abs(x - y).max() / np.abs(y).max()


@pytest.fixture(scope="module")
def fit():
    return Fit()


def test_properties_and_repr(fit):
    c = fit.curv
    assert c.layers == LAYERS
    assert c.offsets.tolist() == [0, 15]
    assert c.feature_dim == 5 * 3 + 4 * 6
    assert c.phase == "fitted"
    assert c.tokens == fit.tokens
    assert c.samples == 30 and c.correction_samples == 30
    r = repr(c)
    assert "2 layers" in r and "fitted" in r and f"{fit.tokens} tokens" in r
    assert "feature_dim=39" in r
    fresh = winnow.Curvature([(1, 2, 3, 99, 99)])  # extra entries (ranks) ignored
    assert fresh.phase == "accumulating" and fresh.tokens == 0 and fresh.samples == 0
    assert fresh.layers == [(1, 2, 3)] and fresh.feature_dim == 6
    assert "accumulating" in repr(fresh)


def test_whitening_matches_explicit_kronecker_inverse(fit):
    counts = [2, 0, 3, 1]
    f = random_batch(fit.rng, counts)
    g = gradients(counts, f)
    for damping, absolute in [(0.1, False), (0.5, True)]:
        w = fit.curv.whiten(counts, f, damping=damping, absolute=absolute)
        assert [(a.shape, d.shape) for a, d in w] == [(a.shape, d.shape) for a, d in f]
        assert all(a.dtype == np.float32 and d.dtype == np.float32 for a, d in w)
        gw = gradients(counts, w)
        for l in range(len(LAYERS)):
            lc = damping if absolute else damping * np.linalg.eigvalsh(fit.C[l]).mean()
            ls = damping if absolute else damping * np.linalg.eigvalsh(fit.S[l]).mean()
            ci = np.linalg.inv(fit.C[l] + lc * np.eye(len(fit.C[l])))
            si = np.linalg.inv(fit.S[l] + ls * np.eye(len(fit.S[l])))
            got = np.array([[np.sum(gw[i][l] * gw[j][l]) for j in range(4)] for i in range(4)])
            ref = np.array([[np.sum(g[i][l] * (si @ g[j][l] @ ci)) for j in range(4)]
                            for i in range(4)])
            assert rel(got, ref) < 1e-4
            # The whitened factors are A (C + l_C)^-1/2 and D (S + l_S)^-1/2.
            assert rel(w[l][0].astype(np.float64), f[l][0] @ inv_root(fit.C[l], lc)) < 1e-4
            assert rel(w[l][1].astype(np.float64), f[l][1] @ inv_root(fit.S[l], ls)) < 1e-4


def test_whitening_an_identity_gives_the_inverse_root(fit):
    """M = (C + l)^-1/2 from whitening A = I: M (C + l) M = I."""
    d_in0, d_out0 = LAYERS[0][1:]
    rows = max(d_in0, d_out0)
    factors = [(np.eye(rows, d_in0, dtype=np.float32), np.eye(rows, d_out0, dtype=np.float32)),
               (np.zeros((rows, 4), np.float32), np.zeros((rows, 6), np.float32))]
    w = fit.curv.whiten([rows], factors, damping=0.2, absolute=True)
    m_c = w[0][0][:d_in0].astype(np.float64)
    m_s = w[0][1][:d_out0].astype(np.float64)
    np.testing.assert_allclose(m_c, m_c.T, atol=1e-5)
    np.testing.assert_allclose(m_c @ (fit.C[0] + 0.2 * np.eye(d_in0)) @ m_c, np.eye(d_in0), atol=1e-4)
    np.testing.assert_allclose(m_s @ (fit.S[0] + 0.2 * np.eye(d_out0)) @ m_s, np.eye(d_out0), atol=1e-4)
    assert np.all(w[1][0] == 0) and np.all(w[1][1] == 0)


@pytest.mark.parametrize("method", ["kfac", "ekfac"])
@pytest.mark.parametrize("damping,absolute", [(0.1, False), (0.05, True), (1.0, False)])
def test_eigenbasis_features_match_explicit_inverse(fit, method, damping, absolute):
    counts = [1, 4, 2, 0, 3, 1]
    f = random_batch(fit.rng, counts)
    g = gradients(counts, f)
    feats = fit.curv.features(counts, f, method=method, damping=damping, absolute=absolute)
    assert feats.shape == (6, fit.curv.feature_dim) and feats.dtype == np.float32
    assert np.all(feats[3] == 0)  # no tokens: a zero gradient
    feats = feats.astype(np.float64)
    for l, (_, d_in, d_out) in enumerate(LAYERS):
        h = fit.hessian(l, method, damping, absolute)
        o = fit.curv.offsets[l]
        block = feats[:, o:o + d_in * d_out]
        ref = np.array([[g[i][l].ravel() @ np.linalg.solve(h, g[j][l].ravel()) for j in range(6)]
                        for i in range(6)])
        assert rel(block @ block.T, ref) < 1e-4


def test_ekfac_with_one_fit_sample_divides_by_its_own_squares():
    """One fit sample: L = (Q_S^T G Q_C)^2, so with absolute damping l each
    feature is x / sqrt(x^2 + l) and <f, f> = sum x^2 / (x^2 + l)."""
    rng = np.random.default_rng(3)
    layers = [(1, 3, 2)]
    counts = [6]
    f = random_batch(rng, counts, layers)
    c = winnow.Curvature(layers)
    c.accumulate(counts, f)
    c.fit()
    c.accumulate_corrections(counts, f)
    g = gradients(counts, f)[0][0]
    feats = c.features(counts, f, method="ekfac", damping=1e-3, absolute=True)[0].astype(np.float64)
    x2 = np.linalg.norm(g) ** 2  # the rotation keeps the norm: sum x^2 = |G|^2
    # sum x^2/(x^2 + l) <= count, and close to the count of non-negligible x.
    assert feats @ feats <= g.size + 1e-4
    c_ref = f[0][0].astype(np.float64).T @ f[0][0] / 6
    s_ref = f[0][1].astype(np.float64).T @ f[0][1] / 6
    e_c, q_c = np.linalg.eigh(c_ref)
    e_s, q_s = np.linalg.eigh(s_ref)
    x = q_s.T @ g @ q_c
    np.testing.assert_allclose(np.sum(x ** 2), x2, rtol=1e-9)
    expected = np.sum(x ** 2 / (x ** 2 + 1e-3))
    assert abs(feats @ feats - expected) < 1e-3 * max(expected, 1)


def test_dict_input_in_any_order_equals_list_input(fit):
    counts = [3, 1, 2]
    f = random_batch(fit.rng, counts)
    as_list = fit.curv.features(counts, f, method="ekfac")
    as_dict = fit.curv.features(counts, {9: f[1], 7: f[0]}, method="ekfac")
    assert np.array_equal(as_list, as_dict)
    w_list = fit.curv.whiten(counts, f)
    w_dict = fit.curv.whiten(counts, {9: f[1], 7: f[0]})
    assert isinstance(w_dict, dict) and list(w_dict) == [9, 7]
    assert np.array_equal(w_dict[7][0], w_list[0][0]) and np.array_equal(w_dict[9][1], w_list[1][1])
    w_one = fit.curv.whiten(counts, {9: f[1]})  # any subset of the layers
    assert list(w_one) == [9] and np.array_equal(w_one[9][0], w_list[1][0])
    assert np.array_equal(w_one[9][1], w_list[1][1])
    out = np.empty((3, fit.curv.feature_dim), np.float32)
    assert fit.curv.features(counts, f, method="ekfac", out=out) is out
    assert np.array_equal(out, as_list)
    with pytest.raises(ValueError):
        fit.curv.features(counts, f, out=np.empty((3, fit.curv.feature_dim), np.float64))
    with pytest.raises(winnow.BufferTooSmallError):
        fit.curv.features(counts, f, out=np.empty((2, fit.curv.feature_dim), np.float32))


def test_features_do_not_depend_on_batch_composition(fit):
    counts = [3, 1, 5, 2]
    f = random_batch(fit.rng, counts)
    starts = np.concatenate([[0], np.cumsum(counts)])

    def sub(samples):
        return ([counts[s] for s in samples],
                [tuple(np.concatenate([m[starts[s]:starts[s + 1]] for s in samples]) for m in pair)
                 for pair in f])

    whole = fit.curv.features(counts, f, method="kfac")
    for samples in ([0], [2, 0], [3, 1, 2]):
        part = fit.curv.features(*sub(samples), method="kfac")
        for i, s in enumerate(samples):
            np.testing.assert_allclose(part[i], whole[s], rtol=1e-5, atol=1e-6)


def test_fit_does_not_depend_on_batch_split(tmp_path):
    rng = np.random.default_rng(8)
    counts = rng.integers(1, 6, 12)
    f = random_batch(rng, counts)
    one = winnow.Curvature(LAYERS)
    one.accumulate(counts, f)
    several = winnow.Curvature(LAYERS)
    starts = np.concatenate([[0], np.cumsum(counts)])
    for lo, hi in [(0, 5), (5, 6), (6, 12)]:
        several.accumulate(counts[lo:hi], [(a[starts[lo]:starts[hi]], d[starts[lo]:starts[hi]])
                                           for a, d in f])
    assert one.tokens == several.tokens == counts.sum() and one.samples == several.samples == 12
    for c in (one, several):
        c.fit()
    q = random_batch(rng, [4])
    a = one.features([4], q, method="kfac").astype(np.float64)
    b = several.features([4], q, method="kfac").astype(np.float64)
    # Eigenvectors are defined up to sign, but |features| and their dot products are not.
    assert rel(a @ a.T, b @ b.T) < 1e-4
    wa = one.whiten([4], q)
    wb = several.whiten([4], q)
    for (x1, y1), (x2, y2) in zip(wa, wb):
        assert rel(x1.astype(np.float64), x2) < 1e-4 and rel(y1.astype(np.float64), y2) < 1e-4


@pytest.mark.parametrize("phase", ["accumulating", "fitted", "corrected"])
def test_save_load_round_trip_in_every_phase(tmp_path, phase):
    rng = np.random.default_rng(11)
    counts = [2, 3, 1, 4]
    f = random_batch(rng, counts)
    c = winnow.Curvature(LAYERS)
    c.accumulate(counts, f)
    if phase != "accumulating":
        c.fit()
    if phase == "corrected":
        c.accumulate_corrections(counts, f)
    path = tmp_path / "fit.wnkfac"
    c.save(path)
    d = winnow.Curvature.load(str(path))
    assert repr(d) == repr(c) and d.layers == c.layers
    if phase == "accumulating":
        c.fit()
        d.fit()
    assert np.array_equal(d.features(counts, f, method="kfac"), c.features(counts, f, method="kfac"))
    for (x1, y1), (x2, y2) in zip(d.whiten(counts, f), c.whiten(counts, f)):
        assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    if phase == "corrected":
        assert np.array_equal(d.features(counts, f, method="ekfac"),
                              c.features(counts, f, method="ekfac"))
    else:
        with pytest.raises(winnow.BadStateError):
            d.features(counts, f, method="ekfac")


def test_empty_correction_batch_adds_nothing_and_the_fit_still_loads(tmp_path):
    rng = np.random.default_rng(16)
    counts = [3, 2]
    f = random_batch(rng, counts)
    c = winnow.Curvature(LAYERS)
    c.accumulate(counts, f)
    c.fit()
    c.accumulate_corrections([], [(np.zeros((0, 5), np.float32), np.zeros((0, 3), np.float32)),
                                  (np.zeros((0, 4), np.float32), np.zeros((0, 6), np.float32))])
    assert c.correction_samples == 0
    c.save(tmp_path / "fit.wnkfac")
    d = winnow.Curvature.load(tmp_path / "fit.wnkfac")
    assert repr(d) == repr(c)
    with pytest.raises(winnow.BadStateError):
        d.features(counts, f, method="ekfac")


def test_corrupt_truncated_padded_files_raise_format_error(tmp_path):
    rng = np.random.default_rng(12)
    c = winnow.Curvature(LAYERS)
    counts = [3, 2]
    c.accumulate(counts, random_batch(rng, counts))
    c.fit()
    path = tmp_path / "fit.wnkfac"
    c.save(path)
    good = path.read_bytes()
    variants = {"truncated": good[:-1], "padded": good + b"\0", "empty": b"",
                "magic": b"X" + good[1:], "header only": good[:60]}
    for position in (0, 10, 30, 60, len(good) // 2, len(good) - 1):
        b = bytearray(good)
        b[position] ^= 0x04
        variants[f"flip {position}"] = bytes(b)
    for name, data in variants.items():
        bad = tmp_path / f"bad-{name.replace(' ', '-')}.wnkfac"
        bad.write_bytes(data)
        with pytest.raises(winnow.FormatError) as info:
            winnow.Curvature.load(bad)
        assert str(bad) in str(info.value), name
    with pytest.raises(winnow.WinnowError) as info:
        winnow.Curvature.load(tmp_path / "missing.wnkfac")
    assert isinstance(info.value, OSError)
    assert winnow.Curvature.load(path).phase == "fitted"  # the good file still loads


def test_state_errors():
    rng = np.random.default_rng(13)
    counts = [2, 2]
    f = random_batch(rng, counts)
    c = winnow.Curvature(LAYERS)
    with pytest.raises(winnow.BadStateError):
        c.fit()  # no tokens
    with pytest.raises(winnow.BadStateError):
        c.accumulate_corrections(counts, f)
    with pytest.raises(winnow.BadStateError):
        c.whiten(counts, f)
    with pytest.raises(winnow.BadStateError):
        c.features(counts, f, method="kfac")
    c.accumulate([0], [(np.zeros((0, 5), np.float32), np.zeros((0, 3), np.float32)),
                       (np.zeros((0, 4), np.float32), np.zeros((0, 6), np.float32))])
    with pytest.raises(winnow.BadStateError):
        c.fit()  # a sample of no tokens is still no token
    c.accumulate(counts, f)
    c.fit()
    with pytest.raises(winnow.BadStateError):
        c.fit()
    with pytest.raises(winnow.BadStateError):
        c.accumulate(counts, f)
    with pytest.raises(winnow.BadStateError):
        c.features(counts, f, method="ekfac")
    assert c.tokens == 4 and c.samples == 3 and c.phase == "fitted"


def test_input_errors_leave_the_fit_unchanged():
    rng = np.random.default_rng(14)
    counts = [2, 3]
    f = random_batch(rng, counts)
    c = winnow.Curvature(LAYERS)
    c.accumulate(counts, f)
    bad = [(f[0][0].copy(), f[0][1]), f[1]]
    bad[0][0][3, 1] = np.nan
    with pytest.raises(winnow.NonFiniteError):
        c.accumulate(counts, bad)
    inf = [f[0], (f[1][0], f[1][1].copy())]
    inf[1][1][0, 0] = np.inf
    with pytest.raises(winnow.NonFiniteError):
        c.accumulate(counts, inf)
    with pytest.raises(winnow.ShapeError):
        c.accumulate([2, 2], f)  # counts sum to 4, factors have 5 rows
    with pytest.raises(winnow.ShapeError):
        c.accumulate(counts, [(f[0][0][:, :4], f[0][1]), f[1]])  # wrong d_in
    with pytest.raises(winnow.WinnowError):
        c.accumulate(counts, {7: f[0], 8: f[1]})  # unknown id
    with pytest.raises(winnow.WinnowError):
        c.accumulate(counts, {7: f[0]})  # missing layer
    with pytest.raises(winnow.WinnowError):
        c.accumulate(counts, [f[0]])
    assert c.tokens == 5 and c.samples == 2
    c.fit()
    reference = winnow.Curvature(LAYERS)
    reference.accumulate(counts, f)
    reference.fit()
    assert np.array_equal(c.features(counts, f, method="kfac"),
                          reference.features(counts, f, method="kfac"))
    with pytest.raises(winnow.NonFiniteError):
        c.accumulate_corrections(counts, bad)
    assert c.correction_samples == 0
    with pytest.raises(winnow.NonFiniteError):
        c.features(counts, bad, method="kfac")
    with pytest.raises(winnow.NonFiniteError):
        c.whiten(counts, bad)
    for damping in (-0.1, float("nan"), float("inf")):
        with pytest.raises(winnow.InvalidArgumentError):
            c.features(counts, f, method="kfac", damping=damping)
        with pytest.raises(winnow.InvalidArgumentError):
            c.whiten(counts, f, damping=damping, absolute=True)
    with pytest.raises(ValueError):
        c.features(counts, f, method="kron")


def test_zero_damping_of_a_rank_deficient_layer_is_numerical():
    rng = np.random.default_rng(15)
    layers = [(1, 6, 4)]
    counts = [2]  # 2 tokens: C (6 x 6) and S (4 x 4) have rank 2
    f = random_batch(rng, counts, layers)
    c = winnow.Curvature(layers)
    c.accumulate(counts, f)
    c.fit()
    with pytest.raises(winnow.NumericalError):
        c.whiten(counts, f, damping=0.0)
    with pytest.raises(winnow.NumericalError):
        c.features(counts, f, method="kfac", damping=0.0, absolute=True)
    assert np.all(np.isfinite(c.features(counts, f, method="kfac", damping=1e-3, absolute=True)))
    # EK-FAC's moments of the directions the fit never moved are rounding
    # noise, not zeros: undamped, they are refused too.
    c.accumulate_corrections(counts, f)
    with pytest.raises(winnow.NumericalError, match="rounding noise"):
        c.features(counts, f, method="ekfac", damping=0.0, absolute=True)
    assert np.all(np.isfinite(c.features(counts, f, method="ekfac", damping=1e-3, absolute=True)))


def test_bad_layers_are_refused():
    for layers in ([], [(1, 0, 3)], [(1, 2, 3), (1, 4, 5)]):
        with pytest.raises(winnow.InvalidArgumentError):
            winnow.Curvature(layers)


def test_whitened_projector_projects_raw_factors_as_whiten_then_project(fit):
    base = winnow.FactoredProjector([(7, 5, 3, 3, 2), (9, 4, 6, 2, 4)], seed=3)
    folded = fit.curv.whitened_projector(base, damping=0.2)
    assert folded.whitening == (0.2, False) and folded.feature_dim == base.feature_dim
    counts = np.array([3, 0, 4])
    factors = random_batch(fit.rng, counts)
    got = folded.project(counts, factors)
    want = base.project(counts, fit.curv.whiten(counts, factors, damping=0.2))
    assert rel(got, want) < 1e-5
    with pytest.raises(ValueError, match="plain ones"):
        folded.factor_matrices(0)
    # The engine takes it like any projector: K-FAC features for the plan.
    engine = winnow.Engine(np.arange(3), np.zeros(3, np.int64), feature_dim=folded.feature_dim)
    engine.begin_epoch(0)
    engine.add_target_factors(0, folded, [4], random_batch(fit.rng, [4]))
    engine.add_candidate_factors(np.arange(3), folded, counts, factors)
    assert engine.end_epoch().ids.size > 0
    other = winnow.FactoredProjector([(8, 5, 3, 2, 2)])
    with pytest.raises(winnow.InvalidArgumentError, match="not a layer of the curvature"):
        fit.curv.whitened_projector(other)
    with pytest.raises(winnow.BadStateError):
        winnow.Curvature(LAYERS).whitened_projector(base)


def test_ekfac_for_one_layer_and_features_of_a_subset(tmp_path):
    rng = np.random.default_rng(21)
    counts = rng.integers(1, 5, 12)
    f = random_batch(rng, counts)
    c = winnow.Curvature(LAYERS)
    c.accumulate(counts, f)
    c.fit()
    c.accumulate_corrections(counts, {9: f[1]})  # EK-FAC for layer 9 only
    assert c.correction_samples == 12
    part = c.features(counts, {9: f[1]}, method="ekfac")
    assert part.shape == (12, 4 * 6)
    whole_kfac = c.features(counts, f, method="kfac")
    np.testing.assert_array_equal(c.features(counts, {9: f[1]}, method="kfac"), whole_kfac[:, 15:])
    with pytest.raises(winnow.BadStateError, match="left out"):
        c.features(counts, f, method="ekfac")
    c.save(tmp_path / "partial.wnkfac")
    again = winnow.Curvature.load(tmp_path / "partial.wnkfac")
    np.testing.assert_array_equal(again.features(counts, {9: f[1]}, method="ekfac"), part)
