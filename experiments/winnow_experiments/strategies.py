"""Selection strategies shared by the experiments.

Baselines that need no gradients (random, full) are plain NumPy. Every other
strategy goes through Winnow (``winnow_bridge``): scores that are not
gradient similarities (gradient norm, loss) are still ranked by Winnow's
deterministic top-fraction selection, and everything gradient-based
(projection, LESS scores over checkpoints, stochastic selection with
inclusion probabilities, GREATS relevance + diversity, influence, domain
mixtures) is computed by Winnow itself.
"""

from __future__ import annotations

import numpy as np

from . import winnow_bridge as wb

F32 = np.float32


def adam_features(g: np.ndarray, m: np.ndarray, v: np.ndarray,
                  b1=0.9, b2=0.999, eps=1e-8) -> np.ndarray:
    """LESS's training-sample feature (DESIGN §2.2): one simulated Adam step
    from the checkpoint's ``m``, ``v`` (no bias correction, ε inside the root).
    ``g`` is ``B × D``; returns ``B × D`` float32."""
    mm = b1 * m + (1 - b1) * g
    vv = b2 * v + (1 - b2) * (g * g)
    return (mm / np.sqrt(vv + eps)).astype(F32)


def random_subset(n: int, fraction: float, seed: int) -> np.ndarray:
    k = max(1, int(round(fraction * n)))
    return np.sort(np.random.default_rng(10_000 + seed).choice(n, k, replace=False))


def top_by_score(scores: np.ndarray, fraction: float) -> np.ndarray:
    """The best ``fraction`` of a score array, ranked by Winnow."""
    return wb.select_top_fraction(np.asarray(scores, F32), fraction)


class CheckpointFeeder:
    """Feeds the same projected features to several Winnow engines, one
    checkpoint (engine epoch) at a time, and keeps what the non-engine
    strategies need (features per checkpoint for influence, losses, norms).

    ``engines`` maps a name to a ``wb.Engine``; all share ``projector``.
    """

    def __init__(self, projector: "wb.Projector", engines: dict, keep_features: bool):
        self.projector = projector
        self.engines = engines
        self.keep = keep_features
        self.train_features: list[np.ndarray] = []
        self.target_features: list[np.ndarray] = []
        self.learning_rates: list[float] = []

    def checkpoint(self, epoch: int, lr: float, target_grads: np.ndarray, candidate_chunks):
        """One checkpoint: ``target_grads`` (``V × D``, plain gradients) and an
        iterable of ``(ids, train_features_D, losses)`` chunks (already in
        LESS's Adam form where the optimizer is Adam)."""
        tf = self.projector.project(target_grads)
        for e in self.engines.values():
            e.begin_epoch(epoch, lr)
            e.add_target(0, tf)
        feats = []
        for ids, g, losses in candidate_chunks:
            f = self.projector.project(g)
            for e in self.engines.values():
                e.add_candidates(ids, f, losses)
            if self.keep:
                feats.append(f)
        plans = {name: e.end_epoch() for name, e in self.engines.items()}
        if self.keep:
            self.train_features.append(np.concatenate(feats))
            self.target_features.append(tf)
            self.learning_rates.append(lr)
        return plans
