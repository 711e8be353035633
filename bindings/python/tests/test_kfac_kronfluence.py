"""winnow.Curvature (K-FAC / EK-FAC, DESIGN 2.9, issue #16) against kronfluence.

Two seeded models built by ``kronfluence_peer`` (a 3-layer MLP classifier and
a 2-block causal transformer LM with ragged, right-padded sequences; every
tracked module an ``nn.Linear``, the transformer's MLP layers with bias)
are scored query x train by kronfluence 1.0.1 (empirical Fisher, sum-reduced
losses) and by Winnow from the per-sample factors captured with hooks on the
same modules. Checked here:

* the peer itself: ``sum_s D_s^T A_s`` is autograd's weight gradient, and an
  exact float64 NumPy influence from the captured factors reproduces
  kronfluence's scores (so a disagreement below is Winnow's, not the peer's);
* ``curv.features(method="kfac" | "ekfac")`` inner products against
  kronfluence's ``kfac`` / ``ekfac`` scores (same damping rule,
  ``0.1 * mean(Lambda)``): Pearson and Spearman >= 0.95 and the same scale;
* K-FAC through ``curv.whiten`` (factored damping ``(S + l_S) (x) (C + l_C)``,
  unprojected ``G_w = D_w^T A_w``) against kronfluence's ``kfac``: at
  damping 0.1 the two damping rules differ (Pearson is asserted, Spearman
  printed); at small damping they must agree;
* the whitening identity ``<whiten(G_i), whiten(G_j)> = g_i^T ((S + l_S I)^-1
  (x) (C + l_C I)^-1) g_j`` against explicit Kronecker products in NumPy;
* save / load gives identical features, and a file with one byte flipped is
  refused with a ``WinnowError``.

Run with ``-s`` to see every measured value. About 25 s of CPU (one thread).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (make test-torch "
                            "creates .venv-torch with the pinned version)")
pytest.importorskip("kronfluence", reason="kronfluence is not installed "
                    "(pip install kronfluence==1.0.1 into the torch environment)")

import winnow  # noqa: E402

if not hasattr(winnow, "Curvature"):
    pytest.skip("this winnow has no Curvature (issue #16)", allow_module_level=True)

import kronfluence_peer as kp  # noqa: E402

torch.set_num_threads(1)

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*torch.cuda.amp.GradScaler:FutureWarning")  # kronfluence 1.0.1 on CPU

#: kronfluence's absolute damping for the small-damping comparison, and the
#: relative damping Winnow's factored K-FAC uses against it.
SMALL_KRONFLUENCE_DAMPING = 1e-8
SMALL_FACTORED_DAMPING = 1e-4
BAR = 0.95


def report(*parts):
    print("\n[kfac-vs-kronfluence]", *parts)


class Case:
    """One model: its captured factors, kronfluence's scores, a fitted Curvature."""

    def __init__(self, config):
        self.peer = peer = kp.build(config)
        self.kind = config.kind
        counts, factors, self.grads = kp.capture(peer, peer.train)
        self.train = self.fit = (counts, factors)
        self.query = kp.capture(peer, peer.query)[:2]
        self.kron = {}
        self.kron_times = {}
        scores, self.kron_times["kfac"] = kp.run_kronfluence(
            peer, "kfac", dampings=(None, SMALL_KRONFLUENCE_DAMPING))
        self.kron["kfac"] = scores[None]
        self.kron["kfac_small"] = scores[SMALL_KRONFLUENCE_DAMPING]
        scores, self.kron_times["ekfac"] = kp.run_kronfluence(peer, "ekfac")
        self.kron["ekfac"] = scores[None]
        self.curv = winnow.Curvature(peer.layers())
        self.curv.accumulate(*self.fit)
        self.curv.fit()
        self.curv.accumulate_corrections(*self.fit)
        self._references = {}

    def reference(self, method, damping=0.1):
        """The exact float64 NumPy influence (``kp.numpy_scores``), cached."""
        key = (method, damping)
        if key not in self._references:
            self._references[key] = kp.numpy_scores(self.fit, self.train, self.query, method,
                                                    damping)
        return self._references[key]

    def features(self, curv, method, which, damping=0.1):
        return curv.features(*getattr(self, which), method=method, damping=damping,
                             absolute=False)

    def scores(self, method, curv=None, damping=0.1):
        curv = curv or self.curv
        q = self.features(curv, method, "query", damping).astype(np.float64)
        t = self.features(curv, method, "train", damping).astype(np.float64)
        return q @ t.T

    def whitened_gradients(self, which, damping, curv=None):
        """``S x sum(d_out * d_in)`` float64: ``G_w = D_w^T A_w`` per sample."""
        counts, factors = getattr(self, which)
        pairs = (curv or self.curv).whiten(counts, factors, damping=damping, absolute=False)
        return np.concatenate([kp.per_sample_gradients(counts, a, d).reshape(len(counts), -1)
                               for a, d in pairs], 1)


@pytest.fixture(scope="module", params=["mlp", "transformer"])
def case(request):
    config = {"mlp": kp.MLP_CONFIG, "transformer": kp.TRANSFORMER_CONFIG}[request.param]
    return Case(config)


def agreement(x, reference):
    return kp.pearson(x, reference), kp.spearman(x, reference), kp.scale(x, reference)


def test_peer_matches_kronfluence(case):
    """The captured factors are the per-sample gradients kronfluence used: their
    sum is autograd's gradient, and NumPy influence from them is kronfluence's."""
    counts, factors = case.train
    for (a, d), grad in zip(factors, case.grads):
        summed = kp.per_sample_gradients(counts, a, d).sum(0)
        assert kp.relative_error(summed, grad) < 1e-4
    for method in ("kfac", "ekfac"):
        error = kp.relative_error(case.kron[method], case.reference(method))
        report(case.kind, method, f"kronfluence vs NumPy: max rel error {error:.2e}")
        assert error < 1e-4


@pytest.mark.parametrize("method", ["kfac", "ekfac"])
def test_features_match_kronfluence(case, method):
    scores = case.scores(method)
    assert scores.shape == case.kron[method].shape
    p, s, k = agreement(scores, case.kron[method])
    error = kp.relative_error(scores, case.reference(method))
    report(case.kind, method, f"features vs kronfluence: pearson {p:.6f} spearman {s:.6f} "
           f"scale {k:.6f}; vs NumPy max rel error {error:.2e}")
    assert p >= BAR and s >= BAR
    assert 0.9 < k < 1.1


def test_whiten_kfac_against_kronfluence(case):
    """Factored damping at 0.1 is not kronfluence's rule (Pearson asserted,
    Spearman printed); at small damping both are the undamped K-FAC."""
    results = {}
    for label, damping, kron in (("0.1", 0.1, case.kron["kfac"]),
                                 ("small", SMALL_FACTORED_DAMPING, case.kron["kfac_small"])):
        q = case.whitened_gradients("query", damping)
        t = case.whitened_gradients("train", damping)
        scores = q @ t.T
        error = kp.relative_error(scores, case.reference("factored", damping))
        results[label] = agreement(scores, kron)
        p, s, k = results[label]
        report(case.kind, f"whiten damping {damping:g} vs kronfluence kfac "
               f"({'heuristic' if label == '0.1' else SMALL_KRONFLUENCE_DAMPING}): "
               f"pearson {p:.6f} spearman {s:.6f} scale {k:.4f}; "
               f"vs NumPy factored K-FAC max rel error {error:.2e}")
        assert error < 1e-3
    assert results["0.1"][0] >= BAR
    assert results["small"][0] >= BAR and results["small"][1] >= BAR


@pytest.mark.parametrize("absolute", [False, True])
def test_whitening_identity(absolute):
    """<whiten(G_i), whiten(G_j)> against explicit Kronecker products."""
    rng = np.random.default_rng(7)
    dims = [(5, 4), (7, 6), (3, 8)]  # (d_in, d_out)
    layers = [(10 + i, d_in, d_out) for i, (d_in, d_out) in enumerate(dims)]

    def batch(samples):
        counts = rng.integers(1, 6, samples)
        rows = int(counts.sum())
        factors = [(rng.standard_normal((rows, d_in)).astype(np.float32),
                    (rng.standard_normal((rows, d_out)) * 0.1).astype(np.float32))
                   for d_in, d_out in dims]
        return counts, factors

    fit_counts, fit_factors = batch(60)
    curv = winnow.Curvature(layers)
    curv.accumulate(fit_counts, fit_factors)
    curv.fit()
    damping = 0.05 if absolute else 0.1
    counts, factors = batch(9)
    pairs = curv.whiten(counts, factors, damping=damping, absolute=absolute)
    got = np.zeros((len(counts), len(counts)))
    want = np.zeros_like(got)
    for (a_f, d_f), (a, d), (a_w, d_w) in zip(fit_factors, factors, pairs):
        assert a_w.shape == a.shape and d_w.shape == d.shape
        a_f, d_f = a_f.astype(np.float64), d_f.astype(np.float64)
        c = a_f.T @ a_f / a_f.shape[0]
        s = d_f.T @ d_f / d_f.shape[0]
        l_c = damping if absolute else damping * np.linalg.eigvalsh(c).mean()
        l_s = damping if absolute else damping * np.linalg.eigvalsh(s).mean()
        inverse = np.kron(np.linalg.inv(s + l_s * np.eye(len(s))),
                          np.linalg.inv(c + l_c * np.eye(len(c))))
        g = kp.per_sample_gradients(counts, a, d).reshape(len(counts), -1)  # row-major vec
        g_w = kp.per_sample_gradients(counts, a_w, d_w).reshape(len(counts), -1)
        got += g_w @ g_w.T
        want += g @ inverse @ g.T
    error = kp.relative_error(got, want)
    report(f"whitening identity (absolute={absolute}): max rel error {error:.2e}")
    assert error < 1e-4


def test_save_load_round_trip_and_corruption(case, tmp_path):
    path = tmp_path / f"{case.kind}.curvature"
    case.curv.save(str(path))
    loaded = winnow.Curvature.load(str(path))
    for method in ("kfac", "ekfac"):
        for which in ("query", "train"):
            np.testing.assert_array_equal(case.features(loaded, method, which),
                                          case.features(case.curv, method, which))
    for before, after in zip(case.curv.whiten(*case.query, damping=0.1),
                             loaded.whiten(*case.query, damping=0.1)):
        np.testing.assert_array_equal(before[0], after[0])
        np.testing.assert_array_equal(before[1], after[1])

    data = bytearray(path.read_bytes())
    corrupt = tmp_path / f"{case.kind}.corrupt.curvature"
    for position in (3, len(data) // 2, len(data) - 1):
        flipped = bytearray(data)
        flipped[position] ^= 0x10
        corrupt.write_bytes(bytes(flipped))
        with pytest.raises(winnow.WinnowError) as raised:
            winnow.Curvature.load(str(corrupt))
        report(case.kind, f"byte {position} of {len(data)} flipped: "
               f"{type(raised.value).__name__}: {raised.value}")
        assert str(raised.value)


def test_ekfac_needs_corrections():
    curv = winnow.Curvature([(0, 3, 2)])
    rng = np.random.default_rng(1)
    counts = np.ones(8, dtype=np.int64)
    factors = [(rng.standard_normal((8, 3)).astype(np.float32),
                rng.standard_normal((8, 2)).astype(np.float32))]
    curv.accumulate(counts, factors)
    curv.fit()
    assert curv.features(counts, factors, method="kfac").shape == (8, 6)
    with pytest.raises(winnow.WinnowError) as raised:
        curv.features(counts, factors, method="ekfac")
    report(f"ekfac without corrections: {type(raised.value).__name__}: {raised.value}")
