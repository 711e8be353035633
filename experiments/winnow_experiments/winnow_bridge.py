"""The one door from the experiments to Winnow.

Every call into Winnow goes through this file: the Python binding
(``bindings/python/winnow``, ctypes over ``libwinnow.so``, the C ABI) for the
projector, selection and the training-time engine, and the ``winnow`` command
line tool for influence scores (``winnow score --measure influence``). If
either is missing, ``available()`` says why, and the experiments stop with
that message rather than substituting anything.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BINDING = os.path.join(ROOT, "bindings", "python")
F32 = np.float32


class WinnowUnavailable(RuntimeError):
    pass


def _module():
    if _BINDING not in sys.path:
        sys.path.insert(0, _BINDING)
    try:
        import winnow  # noqa: PLC0415
    except Exception as e:  # the binding or its .so is missing
        raise WinnowUnavailable(f"the Winnow Python binding cannot be loaded: {e}") from e
    return winnow


def available() -> tuple[bool, str]:
    """Whether the binding loads (and its library with it), and why not."""
    try:
        _module().version()
        return True, ""
    except Exception as e:
        return False, str(e)


def version() -> str:
    return _module().version()


def has_influence() -> tuple[bool, str]:
    """Whether the ``winnow`` executable found has ``score --measure influence``."""
    try:
        exe = cli_path()
    except WinnowUnavailable as e:
        return False, str(e)
    r = subprocess.run([exe, "score", "--help"], capture_output=True, text=True)
    if r.returncode != 0 or "influence" not in r.stdout:
        return False, f"{exe} has no `score --measure influence` (the scoring branch)"
    return True, ""


def cli_path() -> str:
    """The ``winnow`` executable: ``$WINNOW_CLI``, else the release build."""
    env = os.environ.get("WINNOW_CLI")
    if env:
        return env
    for cfg in ("release", "debug"):
        p = os.path.join(ROOT, ".build", cfg, "winnow")
        if os.path.exists(p):
            return p
    raise WinnowUnavailable("no winnow executable: run `swift build -c release` or set WINNOW_CLI")


class Projector:
    """Winnow's dense counter-keyed JL projector (``D → k``, Rademacher)."""

    def __init__(self, input_dim: int, output_dim: int, seed: int = 0):
        self._p = _module().Projector(input_dim, output_dim, seed=seed)

    def project(self, g: np.ndarray) -> np.ndarray:
        """``B × D`` gradients → ``B × k`` features."""
        return self._p.project(np.ascontiguousarray(g, dtype=F32))


def select_top_fraction(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the best ``round(fraction·n)`` scores, ties by index."""
    return np.asarray(_module().select_top_fraction(np.ascontiguousarray(scores, F32), fraction),
                      dtype=np.int64)


class Engine:
    """A Winnow training-time engine over pool positions ``0..N−1``.

    ``params`` are engine parameters by their snake-case names
    (``temperature``, ``diversity_step_size``, ``mixture_rule`` …); ``policy``
    and ``weighting`` take names (``top_fraction``, ``stochastic``,
    ``diversity``, ``domain_quota``; ``unbiased``, ``self_normalized`` …).
    """

    def __init__(self, n: int, k: int, domains=None, policy="top_fraction", fraction=0.05,
                 seed=0, tasks=1, **params):
        w = _module()
        dom = None if domains is None else np.ascontiguousarray(domains, np.int32)
        self._e = w.Engine(np.arange(n, dtype=np.int64), domains=dom, feature_dim=k,
                           task_count=tasks)
        self._e.set_param("policy", policy)
        self._e.set_param("select_fraction", float(fraction))
        self._e.set_param("seed", int(seed))
        for key, value in params.items():
            self._e.set_param(key, value)
        self.last_plan: dict | None = None

    def set_initial_mixture(self, weights) -> None:
        self._e.set_initial_mixture(np.asarray(weights, np.float64))

    def begin_epoch(self, epoch: int, lr: float = 1.0) -> None:
        self._e.begin_epoch(int(epoch), float(lr))

    def add_target(self, task: int, features: np.ndarray) -> None:
        self._e.add_target(task, np.ascontiguousarray(features, F32))

    def add_candidates(self, ids, features=None, losses=None, reference_losses=None) -> None:
        c = lambda a, t: None if a is None else np.ascontiguousarray(a, t)  # noqa: E731
        self._e.add_candidates(c(ids, np.int64), c(features, F32), losses=c(losses, F32),
                               reference_losses=c(reference_losses, F32))

    def end_epoch(self) -> dict:
        p = self._e.end_epoch()
        self.last_plan = dict(ids=np.asarray(p.ids, np.int64), weights=np.asarray(p.weights, F32),
                              probabilities=np.asarray(p.probabilities, np.float64),
                              mixture=np.asarray(p.mixture, np.float64),
                              mixture_average=np.asarray(p.mixture_average, np.float64),
                              kind=p.kind)
        return self.last_plan

    def scores(self) -> np.ndarray:
        return np.asarray(self._e.scores(), F32)


def influence_scores(train: list, target: list, weights: list, damping_scale: float = 0.1):
    """TRAK-style influence ``φᵀ(ΦᵀΦ + λI)⁻¹ v`` over checkpoints, by
    ``winnow score --measure influence``. ``train[c]`` is ``N × k``,
    ``target[c]`` ``V × k``; λ is ``damping_scale`` times the mean diagonal
    of the Gram matrix of the first checkpoint."""
    exe = cli_path()
    g = train[0]
    lam = damping_scale * float((g.astype(np.float64) ** 2).sum() / g.shape[1])
    with tempfile.TemporaryDirectory(prefix="winnow-infl-") as d:
        args = [exe, "score", "--measure", "influence", "--damping", f"{lam:.6g}"]
        for c, (a, b, w) in enumerate(zip(train, target, weights)):
            ta, tb = os.path.join(d, f"train{c}.npy"), os.path.join(d, f"target{c}.npy")
            np.save(ta, np.ascontiguousarray(a, F32))
            np.save(tb, np.ascontiguousarray(b, F32))
            args += ["--train", ta, "--target", tb, "--checkpoint-weight", f"{w:.6g}"]
        out = os.path.join(d, "scores.npy")
        r = subprocess.run(args + ["--output", out], capture_output=True, text=True)
        if r.returncode != 0:
            raise WinnowUnavailable(f"winnow score failed: {r.stderr.strip()}")
        return np.load(out)
