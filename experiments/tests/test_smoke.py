"""Smoke tests of the experiments harness at a tiny size (well under a minute).

The data, model and report tests always run. The experiment runs need
Winnow's Python binding and its library (``make lib``); without them they
are skipped, with the binding's own message as the reason. Influence (E1)
additionally needs a ``winnow`` executable with ``score`` and is left out of
the tiny E1 run when there is none.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from winnow_experiments import data, harness, models, report, winnow_bridge  # noqa: E402

WINNOW_OK, WINNOW_WHY = winnow_bridge.available()
needs_winnow = pytest.mark.skipif(not WINNOW_OK, reason=f"Winnow binding absent: {WINNOW_WHY}")


def test_corpus_has_languages_and_english_topics():
    c = data.load_corpus()
    assert len(c) > 50_000
    for lang in ("de", "es", "it", "pt", "pl", "cs", "ru"):
        assert lang in c.domains
    assert sum(d.startswith("en/") for d in c.domains) >= 10
    assert all(len(t) >= data.MIN_BYTES for t in c.texts[:1000])
    assert "total" in data.list_domains()


def test_lm_per_sample_gradients_equal_single_text_gradients():
    m = models.ByteLM(context=3, embed=4, hidden=8, seed=1)
    m.theta = m.theta.astype(np.float64)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (4, 12)).astype(np.uint8)
    lens = np.array([12, 3, 7, 12], np.int32)
    G, loss = m.per_sample_grads(X, lens)
    for i in range(4):
        li, gi = m.loss_and_grad(X[i:i + 1, :lens[i]], lens[i:i + 1])
        assert abs(li - loss[i]) < 1e-9
        np.testing.assert_allclose(G[i], gi, rtol=1e-6, atol=1e-9)


def test_lm_gradient_matches_finite_differences():
    m = models.ByteLM(context=2, embed=3, hidden=5, seed=2)
    m.theta = m.theta.astype(np.float64)
    X = np.frombuffer(b"hello winnow", np.uint8)[None].copy()
    lens = np.array([X.shape[1]], np.int32)
    _, g = m.loss_and_grad(X, lens)
    th = m.theta.copy()
    for j in np.random.default_rng(1).integers(0, m.size, 8):
        m.theta = th.copy(); m.theta[j] += 1e-6
        lp, _ = m.loss_and_grad(X, lens)
        m.theta = th.copy(); m.theta[j] -= 1e-6
        lm, _ = m.loss_and_grad(X, lens)
        assert abs((lp - lm) / 2e-6 - g[j]) < 1e-6
    m.theta = th


def test_classifier_weighted_gradient_is_weighted_mean_of_per_sample_gradients():
    c = models.SoftmaxClassifier(6, 3)
    rng = np.random.default_rng(0)
    c.theta = rng.normal(size=c.size)
    X, y, w = rng.normal(size=(5, 6)), rng.integers(0, 3, 5), rng.random(5)
    G, _ = c.per_sample_grads(X, y)
    np.testing.assert_allclose(c.grad(X, y, w), (w[:, None] * G).mean(0), rtol=1e-5, atol=1e-7)


def test_report_writes_table_csv_and_plot(tmp_path):
    recs = [{"strategy": s, "fraction": f, "seed": k, "metric": "bpb", "value": v + k * 0.1}
            for s, v in (("random", 4.0), ("less", 3.5)) for f in (0.05, 0.1) for k in range(3)]
    rows = report.summarize(recs)
    assert rows[0]["n"] == 3 and abs(rows[0]["ci95"] - 4.303 * 0.1 / np.sqrt(3)) < 1e-9
    md = report.markdown(rows, "bpb", True)
    assert "| less | 0.05 | 3.6 ± 0.25 | -0.5000 |" in md
    report.write_csv(rows, tmp_path / "t.csv")
    report.plot(rows, "bpb", True, str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").stat().st_size > 1000


def _check_run(folder, strategies):
    recs = json.load(open(os.path.join(folder, "results.json")))
    assert recs and set(recs[0]) == {"strategy", "fraction", "seed", "metric", "value"}
    assert strategies <= {r["strategy"] for r in recs}
    assert {r["seed"] for r in recs} == {0, 1}
    assert all(np.isfinite(r["value"]) for r in recs)
    names = os.listdir(folder)
    assert {"table.csv", "table.md", "meta.json"} <= set(names)
    assert any(n.endswith(".png") for n in names)


@needs_winnow
def test_e1_tiny(tmp_path):
    from winnow_experiments import e1_targeted

    cfg = harness.Config(seeds=2, out=str(tmp_path), verbose=False)
    e1_targeted.run(cfg, size_name="tiny")
    _check_run(tmp_path, {"random", "full", "less", "less-stochastic", "less-diversity",
                          "grad-norm", "loss", "target-domain"})


@needs_winnow
def test_e2_tiny(tmp_path):
    from winnow_experiments import e2_noisy

    e2_noisy.run(harness.Config(seeds=2, out=str(tmp_path), verbose=False), size_name="tiny")
    _check_run(tmp_path, {"random", "full", "less", "less-quota", "less-stochastic",
                          "less-reweight", "small-loss", "clean-oracle"})


@needs_winnow
def test_e3_tiny(tmp_path):
    from winnow_experiments import e3_mixture

    e3_mixture.run(harness.Config(seeds=2, out=str(tmp_path), verbose=False), size_name="tiny")
    _check_run(tmp_path, {"uniform", "natural", "align", "doremi", "bandit"})
