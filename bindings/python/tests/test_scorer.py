"""winnow.Scorer: the piecewise scores of `winnow score` (cosine, dot)."""

import numpy as np
import pytest

import winnow


def _pool(n=1000, k=96, m=10, seed=1):
    rng = np.random.default_rng(seed)
    return ([rng.standard_normal((n, k)).astype(np.float32) for _ in range(2)],
            [rng.standard_normal((m, k)).astype(np.float32) for _ in range(2)],
            np.array([3, 3, 1, 1, 1, 7, 7, 7, 7, 3]))


def test_scores_do_not_depend_on_how_the_pool_is_cut():
    train, targets, groups = _pool()
    with winnow.Scorer(targets, weights=[2.0, 1.0], groups=groups) as scorer:
        whole = scorer.score(train)
        for cut in (1, 7, 333):
            pieces = np.concatenate([scorer.score([t[i:i + cut] for t in train])
                                     for i in range(0, len(whole), cut)])
            assert np.array_equal(pieces.view(np.uint32), whole.view(np.uint32))


@pytest.mark.parametrize("measure", ["cosine", "dot"])
def test_scores_match_the_formula(measure):
    train, targets, groups = _pool()
    w = np.array([2.0, 1.0]) / 3
    norm = (lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)) if measure == "cosine" else (lambda x: x)
    s = sum(w[c] * norm(train[c].astype(np.float64)) @ norm(targets[c].astype(np.float64)).T
            for c in range(2))
    want = np.max([s[:, groups == g].mean(axis=1) for g in np.unique(groups)], axis=0)
    got = winnow.Scorer(targets, weights=[2.0, 1.0], groups=groups, measure=measure).score(train)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_nonfinite_rows_fail_or_score_minus_infinity():
    train, targets, _ = _pool(n=20)
    train[1][5, 3] = np.nan
    with pytest.raises(winnow.WinnowError, match="row 5"):
        winnow.Scorer(targets).score(train)
    scorer = winnow.Scorer(targets, skip_nonfinite=True)
    scores = scorer.score(train)
    assert scores[5] == -np.inf and scorer.last_skipped == 1 and np.isfinite(np.delete(scores, 5)).all()


def test_bad_arguments_are_clear_errors():
    train, targets, _ = _pool(n=5)
    with pytest.raises(winnow.WinnowError, match="influence") as error:
        winnow.Scorer(targets, measure="influence")
    assert error.value.status == -8
    with pytest.raises(winnow.WinnowError, match=r"train\[1\] has shape \(5, 95\)"):
        winnow.Scorer(targets).score([train[0], train[1][:, :95]])
    with pytest.raises(winnow.WinnowError, match="weight"):
        winnow.Scorer(targets, weights=[1.0, -1.0])
    with pytest.raises(winnow.WinnowError, match="group labels"):
        winnow.Scorer(targets, groups=[0, 1])
    with pytest.raises(ValueError):
        winnow.Scorer(targets, measure="euclid")
