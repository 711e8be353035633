"""Every method's per-sample score at the base model's final checkpoint.

Sign convention: higher = more helpful = a lower target loss after training
on the text (a gradient step on text ``i`` changes the target loss by
``−η g_targetᵀ g_i`` to first order).

What Winnow computes, and what is NumPy:

* projections: ``winnow.Projector`` (dense Rademacher JL, flat gradients →
  ``k``) and ``winnow.FactoredProjector`` (per-layer ``k_in × k_out`` from the
  factors, never forming ``G``);
* ``cosine``, ``dot``, ``less``: ``winnow.Scorer`` (measure ``cosine`` /
  ``dot``) with the mean target feature as its one target row;
* ``kfac``, ``kfac-eig``, ``ekfac``: ``winnow.Curvature`` (covariances,
  eigendecomposition, EK-FAC corrections, whitening and eigenbasis features),
  then the dot product with the mean target feature through ``winnow.Scorer``;
* ``trak``: ``φ_tᵀ (ΦᵀΦ + λI)⁻¹ φ_i`` is **NumPy** (the binding has no
  influence scorer; ``winnow score --measure influence`` is a CLI over
  files), in the open below;
* ``grad-norm`` and ``random`` are NumPy floors.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import lds_model as lm
from winnow_experiments.strategies import adam_features

F32 = np.float32
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FULL = 0  # the "k" of unprojected features


def load_winnow():
    """The ``winnow`` package: whatever ``PYTHONPATH`` gives first (a snapshot
    with ``Curvature``), else the repository's ``bindings/python``; the
    library comes from ``WINNOW_LIBRARY`` or the binding's search order."""
    try:
        import winnow  # noqa: PLC0415
    except ImportError:
        sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
        import winnow  # noqa: PLC0415
    return winnow


def factored_shape(k: int) -> tuple[int, int]:
    """``(k_in, k_out)`` per layer so that two layers give ``k`` features:
    ``k_in·k_out = k/2``, ``k_out`` the larger (64 → 4×8, 256 → 8×16, 1024 → 16×32)."""
    half = k // 2
    k_in = int(2 ** np.floor(np.log2(half) / 2))
    return k_in, half // k_in


def linear_layout(model, vec: np.ndarray) -> np.ndarray:
    """A model-layout vector (``D``, e.g. Adam's ``m``) in this experiment's
    flat layout ``[vec(W1ᵀ|b1), vec(W2ᵀ|b2)]``."""
    parts = []
    for w, b in (("W1", "b1"), ("W2", "b2")):
        parts.append(np.hstack([model.view(w, vec).T, model.view(b, vec)[:, None]]).ravel())
    return np.concatenate(parts).astype(F32)


def trak_scores(Phi: np.ndarray, phi_t: np.ndarray, damping: float = 0.1) -> np.ndarray:
    """TRAK-style influence ``φ_tᵀ (ΦᵀΦ + λI)⁻¹ φ_i`` for every row ``φ_i`` of
    ``Φ`` (``N × k``), in float64. ``λ = damping ×`` the mean diagonal of
    ``ΦᵀΦ`` (as ``winnow score --measure influence`` in E1). For ``k > N`` the
    ``N × N`` form: ``Φ(ΦᵀΦ+λI)⁻¹φ_t = (ΦΦᵀ+λI)⁻¹ Φφ_t`` (push-through identity)."""
    P = Phi.astype(np.float64)
    t = phi_t.astype(np.float64)
    N, k = P.shape
    lam = damping * float((P * P).sum()) / k
    if k <= N:
        return (P @ np.linalg.solve(P.T @ P + lam * np.eye(k), t)).astype(F32)
    return np.linalg.solve(P @ P.T + lam * np.eye(N), P @ t).astype(F32)


class Scores:
    """Computes and holds, per ``(method, k)``, the scores against the mean
    target feature (``scores``, ``N``) and, with ``per_target``, against each
    target text's feature (``per_target``, ``N × T``, for the per-example LDS).
    ``only`` restricts the methods computed (the damping sweep)."""

    def __init__(self, winnow, ks, damping=0.1, projector_seed=0, log=print,
                 per_target=True, only=None):
        self.w, self.ks, self.damping, self.seed, self.log = winnow, list(ks), damping, \
            projector_seed, log
        self.want_per_target, self.only = per_target, None if only is None else set(only)
        self.scores: dict[tuple[str, int], np.ndarray] = {}
        self.per_target: dict[tuple[str, int], np.ndarray] = {}
        self.has_curvature = hasattr(winnow, "Curvature")

    def _wanted(self, method):
        return self.only is None or method in self.only

    # -- helpers ---------------------------------------------------------
    def _scorer(self, target_row, rows, measure):
        """``winnow.Scorer`` with one target row: ``N`` cosines or dot products."""
        s = self.w.Scorer([np.ascontiguousarray(target_row[None, :], F32)], measure=measure)
        try:
            return np.array(s.score([rows]))
        finally:
            s.close()

    def _score(self, key, targets, rows, measure):
        """Scores of ``rows`` against the mean of ``targets`` (``T × k``) and,
        when wanted, against each target row; both through ``winnow.Scorer``."""
        rows = np.ascontiguousarray(rows, F32)
        self.scores[key] = self._scorer(targets.mean(0), rows, measure)
        if self.want_per_target:
            self.per_target[key] = np.stack([self._scorer(t, rows, measure) for t in targets], 1)

    def _trak(self, key, targets, rows):
        if self.want_per_target:
            # linear in the target: one solve for every target, and the mean's is their mean
            self.per_target[key] = _trak_many(rows, targets, self.damping)
            self.scores[key] = self.per_target[key].mean(1)
        else:
            self.scores[key] = trak_scores(rows, targets.mean(0), self.damping)

    def _projected(self, rows, targets, measures, trak=False):
        """``rows`` (``N × D`` flat features) against ``targets`` (``T × D``) at
        every ``k`` (dense ``winnow.Projector``) and unprojected."""
        D = rows.shape[1]
        for k in self.ks:
            if k == FULL:
                R, T = rows, targets
            else:
                p = self.w.Projector(D, k, seed=self.seed)
                R, T = p.project(rows), p.project(targets)
                p.close()
            for method, measure in measures.items():
                self._score((method, k), T, R, measure)
            if trak:
                self._trak(("trak", k), T, R)

    # -- the methods -----------------------------------------------------
    def compute(self, model, task, opt, chunk=256, fisher_seed=0):
        """All methods for ``model`` (the base checkpoint) with its Adam ``opt``."""
        N = len(task.X)
        tc_t, pairs_t, _ = lm.factors(model, task.target_X, task.target_lengths)
        g_t = lm.gradients_from_factors(tc_t, pairs_t)          # T × D
        G = np.empty((N, g_t.shape[1]), F32)
        for sl, tc, pairs, _ in lm.chunked(model, task.X, task.lengths, chunk):
            G[sl] = lm.gradients_from_factors(tc, pairs)

        # plain gradients: cosine, dot, TRAK
        measures = {m: m for m in ("cosine", "dot") if self._wanted(m)}
        if measures or self._wanted("trak"):
            self._projected(G, g_t, measures, trak=self._wanted("trak"))
        # LESS: Adam features of the train gradients, plain target gradients
        if self._wanted("less"):
            m, v = linear_layout(model, opt.m), linear_layout(model, opt.v)
            self._projected(adam_features(G, m, v), g_t, {"less": "cosine"})
        if self._wanted("grad-norm"):
            s = np.linalg.norm(G, axis=1).astype(F32)
            self.scores[("grad-norm", FULL)] = s
            if self.want_per_target:
                self.per_target[("grad-norm", FULL)] = np.repeat(s[:, None], len(g_t), 1)
        del G
        if not any(self._wanted(m) for m in ("kfac", "kfac-eig", "ekfac")):
            return self.scores
        if not self.has_curvature:
            self.log("winnow.Curvature is not in this binding: K-FAC/EK-FAC skipped")
            return self.scores
        self._curvature(model, task, chunk, fisher_seed, tc_t, pairs_t)
        return self.scores

    def _curvature(self, model, task, chunk, fisher_seed, tc_t, pairs_t):
        w = self.w
        dims = lm.layer_dims(model)
        curv = w.Curvature(dims)
        # pass 1 + 2: the true Fisher (next bytes drawn from the model), as kronfluence
        rng = np.random.default_rng(fisher_seed)
        for _, tc, pairs, _ in lm.chunked(model, task.X, task.lengths, chunk, sample_labels=rng):
            curv.accumulate(tc, pairs)
        curv.fit()
        rng = np.random.default_rng(fisher_seed + 1)
        for _, tc, pairs, _ in lm.chunked(model, task.X, task.lengths, chunk, sample_labels=rng):
            curv.accumulate_corrections(tc, pairs)

        # kfac: factored damping (whiten), then FactoredProjector at each k / materialized
        kfac = self._wanted("kfac")
        projectors = {k: w.FactoredProjector([(i, a, b, *factored_shape(k)) for i, a, b in dims],
                                             seed=self.seed)
                      for k in self.ks if k != FULL and kfac}

        def whitened(tc, pairs):
            return curv.whiten(tc, pairs, damping=self.damping)
        wt = whitened(tc_t, pairs_t)
        targets = {k: p.project(tc_t, wt) for k, p in projectors.items()}
        if FULL in self.ks and kfac:
            targets[FULL] = lm.gradients_from_factors(tc_t, wt)
        feats = {k: [] for k in targets}
        eig = {name: [] for name in ("kfac-eig", "ekfac") if self._wanted(name)}
        methods = {"kfac-eig": "kfac", "ekfac": "ekfac"}
        for _, tc, pairs, _ in lm.chunked(model, task.X, task.lengths, chunk):
            if targets:
                wp = whitened(tc, pairs)
            for k, p in projectors.items():
                feats[k].append(p.project(tc, wp))
            if FULL in feats:
                feats[FULL].append(lm.gradients_from_factors(tc, wp))
            for name in eig:
                eig[name].append(curv.features(tc, pairs, method=methods[name],
                                               damping=self.damping))
        for k in targets:
            self._score(("kfac", k), targets[k], np.concatenate(feats[k]), "dot")
        del feats
        for name in list(eig):
            F = np.concatenate(eig.pop(name))
            T = curv.features(tc_t, pairs_t, method=methods[name], damping=self.damping)
            self._projected(F, T, {name: "dot"})
            del F
        for p in projectors.values():
            p.close()
        if hasattr(curv, "close"):
            curv.close()


def _trak_many(Phi, targets, damping):
    """``trak_scores`` for every target row at once (one solve): ``N × T``."""
    P = Phi.astype(np.float64)
    Tt = targets.astype(np.float64).T
    N, k = P.shape
    lam = damping * float((P * P).sum()) / k
    if k <= N:
        return (P @ np.linalg.solve(P.T @ P + lam * np.eye(k), Tt)).astype(F32)
    return np.linalg.solve(P @ P.T + lam * np.eye(N), P @ Tt).astype(F32)
