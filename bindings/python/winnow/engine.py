"""The training-time selection engine and step mode (DESIGN 2.4-2.6)."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from . import _arrays as A
from ._errors import check
from ._handle import LibraryObject
from ._lib import lib
from .factored import FactoredProjector
from .projector import Projector

_FLAG_INTEGER, _FLAG_LOWER_OPEN = 1, 2  # WN_PARAM_FLAG_*


@dataclass(frozen=True)
class ParamBounds:
    """A parameter's accepted range and default (``wn_param_bounds``,
    ``wn_param_default``)."""

    low: float
    high: float
    integer: bool
    low_is_open: bool
    default: float


def _read_param_table() -> tuple[dict[str, int], dict[str, ParamBounds]]:
    """Every parameter key of the library: keys run 1, 2, ... until
    ``wn_param_name`` returns NULL (winnow.h), each with its bounds and default."""
    keys, bounds = {}, {}
    key = 1
    while (raw := lib.wn_param_name(key)) is not None:
        lo, hi, flags = ctypes.c_double(), ctypes.c_double(), ctypes.c_int32()
        default = ctypes.c_double()
        check(lib.wn_param_bounds(key, ctypes.byref(lo), ctypes.byref(hi), ctypes.byref(flags)))
        check(lib.wn_param_default(key, ctypes.byref(default)))
        name = raw.decode()
        keys[name] = key
        bounds[name] = ParamBounds(lo.value, hi.value, bool(flags.value & _FLAG_INTEGER),
                                   bool(flags.value & _FLAG_LOWER_OPEN), default.value)
        key += 1
    return keys, bounds


#: Parameter names and their C keys (``WN_PARAM_*`` without the prefix, lower
#: case), and each one's bounds and default, read from the library at import.
PARAMS, PARAM_BOUNDS = _read_param_table()
#: Names accepted for the enumerated parameters.
CHOICES = {
    "policy": {"top_fraction": 0, "domain_quota": 1, "stochastic": 2, "diversity": 3},
    "score_combination": {"lr_weighted": 0, "moving_average": 1},
    "mixture_rule": {"fixed": 0, "gradient_alignment": 1, "excess_loss": 2, "bandit": 3},
    "weighting": {"automatic": 0, "uniform": 1, "self_normalized": 2, "unbiased": 3},
    "diversity_method": {"auto": 0, "sequential": 1, "blocked": 2},
}
INTEGER_PARAMS = frozenset(name for name, b in PARAM_BOUNDS.items() if b.integer)
PLAN_KINDS = ("planned", "warmup", "reused")
POLICIES = ("top_fraction", "domain_quota", "stochastic", "diversity")


def param_bounds(name: str) -> tuple[float, float, bool, bool]:
    """``(low, high, integer, low_is_open)`` for a parameter name."""
    b = PARAM_BOUNDS[name]
    return b.low, b.high, b.integer, b.low_is_open


@dataclass(frozen=True)
class Plan:
    """What to train on next epoch.

    Attributes:
        epoch: the epoch whose ``end_epoch`` produced the plan.
        kind: ``"planned"``, ``"warmup"`` or ``"reused"``.
        policy: the policy that chose the samples.
        ids: selected sample ids (``int64``, n).
        weights: one training weight per selected sample (``float32``, n).
        probabilities: each selected sample's inclusion probability (n).
        mixture: the domain mixture for the next epoch (K, sums to 1).
        mixture_average: the time average of the mixtures (K).
        domain_counts: selected samples per domain (K).
    """

    epoch: int
    kind: str
    policy: str
    ids: np.ndarray
    weights: np.ndarray
    probabilities: np.ndarray
    mixture: np.ndarray
    mixture_average: np.ndarray
    domain_counts: np.ndarray


@dataclass(frozen=True)
class StepResult:
    """Step mode's answer: ``indices`` (rows of the batch, pick order) and ``weights``."""

    indices: np.ndarray
    weights: np.ndarray


def _step(function, handle, features, target, keep: int, step_size: float, check_status):
    f = A.contiguous(features, np.float32, "features", ndim=2)
    t = A.contiguous(target, np.float32, "target", ndim=1)
    if t.size != f.shape[1]:
        raise ValueError(f"target has {t.size} values, features {f.shape[1]} columns")
    indices = np.empty(max(keep, 0), dtype=np.int64)
    weights = np.empty(max(keep, 0), dtype=np.float32)
    args = (A.f32(f), f.shape[0], f.shape[1], A.f32(t), keep, step_size, A.i64(indices),
            A.f32(weights), indices.size)
    check_status(function(handle, *args) if handle is not None else function(*args))
    return StepResult(indices, weights)


def select_step(features, target, keep: int, step_size: float = 0.01) -> StepResult:
    """Keeps ``keep`` rows of a ``B x k`` batch by the GREATS greedy rule.

    Maximizes ``eta <g_i, target> - eta^2 sum_{j in S} <g_i, g_j>`` greedily;
    no engine needed. See ``Engine.select_step``.
    """
    return _step(lib.wn_select_step, None, features, target, keep, step_size, check)


def _target_batch(projector: FactoredProjector, target):
    """Step mode's target factors as a one-sample batch of all their rows."""
    pairs = list(target.values()) if isinstance(target, dict) else list(target)
    rows = np.asarray(pairs[0][0]).shape[0] if pairs and np.ndim(pairs[0][0]) == 2 else 0
    return projector._batch([rows], target, name="target")


def _step_factors(function, handle, projector: FactoredProjector, token_counts, factors,
                  target, keep: int, step_size: float, check_status):
    b = projector._batch(token_counts, factors)
    t = _target_batch(projector, target)
    if t.layer_count != b.layer_count or (b.ids is None) != (t.ids is None) or (
            b.ids is not None and not np.array_equal(b.ids, t.ids)):
        raise ValueError("target factors must name the same layers, in the same order, "
                         "as the batch's")
    indices = np.empty(max(keep, 0), dtype=np.int64)
    weights = np.empty(max(keep, 0), dtype=np.float32)
    args = (projector._handle, *b.args(), t.total, t.inputs, t.outputs, keep, step_size,
            A.i64(indices), A.f32(weights), indices.size)
    check_status(function(handle, *args) if handle is not None else function(*args))
    return StepResult(indices, weights)


def select_step_factors(projector: FactoredProjector, token_counts, factors, target, keep: int,
                        step_size: float = 0.01) -> StepResult:
    """Step mode from linear-layer factors, no engine needed.

    Projects the batch (``token_counts``, ``factors`` as for
    ``FactoredProjector.project``) and the target with ``projector``, then
    keeps ``keep`` samples as ``select_step`` does on the features (the same
    picks). ``target`` is ``[(A_t, D_t), ...]`` per layer in the batch's
    order (or a dict by id), ``T_t`` rows each: the target gradient is
    ``D_t.T A_t`` (concatenate the tokens of several validation samples to
    target their summed gradient).
    """
    def check_projector(status):
        check(status, lambda: lib.wn_factored_projector_last_error(projector._handle))
    return _step_factors(lib.wn_select_step_factors, None, projector, token_counts, factors,
                         target, keep, step_size, check_projector)


class Engine(LibraryObject):
    """Per-epoch data selection over a fixed candidate pool.

    Each epoch: ``begin_epoch``; ``add_target`` (every task) before
    ``add_candidates`` in batches (each id once per epoch); ``end_epoch``
    returns the ``Plan``. Parameters (``set_param``) change only between
    epochs. Not safe for concurrent use from several threads.

    Args:
        ids: the pool's ``N`` distinct sample ids (int64).
        domains: ``N`` domain indices, or ``None`` for one domain.
        feature_dim: ``k``, the dimension of every feature row.
        task_count: ``T``, the number of target tasks fed each epoch.
        domain_count: ``K``; by default the largest domain index + 1.
        **params: initial parameters, as for ``set_param``.
    """

    _kind = "engine"

    def __init__(self, ids, domains=None, *, feature_dim: int, task_count: int = 1,
                 domain_count: int = 0, **params):
        i = A.contiguous(ids, np.int64, "ids", ndim=1)
        d = None if domains is None else A.contiguous(domains, np.int32, "domains", ndim=1)
        if d is not None and d.size != i.size:
            raise ValueError(f"{d.size} domains for {i.size} ids")
        handle = ctypes.c_void_p()
        check(lib.wn_engine_create(ctypes.byref(handle), A.i64(i), A.i32(d), i.size,
                                   domain_count, feature_dim, task_count))
        self._handle = handle
        self.pool_ids = i
        self.feature_dim = feature_dim
        for name, value in params.items():
            self.set_param(name, value)

    def set_param(self, name: str, value) -> None:
        """Sets a parameter by name (``"select_fraction"``, ``"policy"``, ...).

        Enumerated parameters accept their names (``policy="stochastic"``).
        Raises ``WinnowError`` out of range or while an epoch is open.
        """
        if name not in PARAMS:
            raise KeyError(f"unknown parameter {name!r}; known: {sorted(PARAMS)}")
        if isinstance(value, str):
            value = CHOICES[name][value]
        if name in INTEGER_PARAMS and float(value).is_integer():
            if name == "seed":
                value = int(value) & 0xFFFF_FFFF_FFFF_FFFF
                value = value - (1 << 64) if value >= 1 << 63 else value
            self._check(lib.wn_engine_set_param_i64(self._handle, PARAMS[name], int(value)))
        else:
            self._check(lib.wn_engine_set_param_f64(self._handle, PARAMS[name], float(value)))

    def get_param(self, name: str) -> float:
        """A parameter's current value, as a float."""
        out = ctypes.c_double()
        self._check(lib.wn_engine_get_param_f64(self._handle, PARAMS[name], ctypes.byref(out)))
        return out.value

    def set_initial_mixture(self, weights) -> None:
        """Sets the starting domain mixture (K positive weights, normalized)."""
        w = A.contiguous(weights, np.float64, "weights", ndim=1)
        self._check(lib.wn_engine_set_initial_mixture(self._handle, A.f64(w), w.size))

    def set_audit_log(self, path) -> None:
        """Appends one JSON line per plan to ``path`` (``None`` stops logging)."""
        raw = None if path is None else str(path).encode()
        self._check(lib.wn_engine_set_audit_log(self._handle, raw))

    def begin_epoch(self, epoch: int, learning_rate: float = 1.0) -> None:
        """Opens ``epoch`` (larger than every earlier one) with weight ``learning_rate``."""
        self._check(lib.wn_engine_begin_epoch(self._handle, epoch, learning_rate))

    def add_target(self, task: int, features, projector: Projector | None = None) -> None:
        """Adds target rows for ``task``: ``rows x k`` features, or ``rows x D``
        raw gradients when ``projector`` is given."""
        f = A.contiguous(features, np.float32, "features")
        f = f.reshape(1, -1) if f.ndim == 1 else f
        if projector is None:
            self._check(lib.wn_engine_add_target(self._handle, task, A.f32(f), f.shape[0],
                                                 f.shape[1]))
        else:
            self._check(lib.wn_engine_add_target_gradients(
                self._handle, projector._handle, task, A.f32(f), f.shape[0], f.shape[1]))

    def add_candidates(self, ids, features=None, losses=None, reference_losses=None,
                       projector: Projector | None = None) -> None:
        """Adds a batch of candidates by id.

        Args:
            ids: ``B`` sample ids of the pool.
            features: ``B x k`` features, ``B x D`` raw gradients with
                ``projector``, or ``None`` to feed losses only.
            losses: ``B`` per-sample losses, or ``None``.
            reference_losses: ``B`` reference-model losses, or ``None``.
        """
        i = A.contiguous(ids, np.int64, "ids", ndim=1)
        f = None if features is None else A.contiguous(features, np.float32, "features", ndim=2)
        if f is not None and f.shape[0] != i.size:
            raise ValueError(f"{f.shape[0]} feature rows for {i.size} ids")
        vectors = []
        for name, v in (("losses", losses), ("reference_losses", reference_losses)):
            v = None if v is None else A.contiguous(v, np.float32, name, ndim=1)
            if v is not None and v.size != i.size:
                raise ValueError(f"{v.size} {name} for {i.size} ids")
            vectors.append(v)
        l, r = vectors
        dim = 0 if f is None else f.shape[1]
        if projector is None:
            self._check(lib.wn_engine_add_candidates(
                self._handle, A.i64(i), i.size, A.f32(f), dim, A.f32(l), A.f32(r)))
        else:
            if f is None:
                raise ValueError("raw gradients are needed with a projector")
            self._check(lib.wn_engine_add_candidate_gradients(
                self._handle, projector._handle, A.i64(i), i.size, A.f32(f), dim, A.f32(l),
                A.f32(r)))

    def add_target_factors(self, task: int, projector: FactoredProjector, token_counts,
                           factors) -> None:
        """Adds target rows for ``task`` from linear-layer factors: each of the
        ``len(token_counts)`` target samples becomes one row, projected with
        ``projector`` (whose ``feature_dim`` must equal the engine's)."""
        b = projector._batch(token_counts, factors)
        self._check(lib.wn_engine_add_target_factors(self._handle, projector._handle, task,
                                                     *b.args()))

    def add_candidate_factors(self, ids, projector: FactoredProjector, token_counts, factors,
                              losses=None, reference_losses=None) -> None:
        """Adds a batch of candidates by id from linear-layer factors.

        Candidate ``ids[s]`` owns ``token_counts[s]`` rows of every factor
        (``factors`` as for ``FactoredProjector.project``); the features are
        projected with ``projector`` (``feature_dim`` equal to the engine's).
        ``losses`` and ``reference_losses`` as for ``add_candidates``.
        """
        i = A.contiguous(ids, np.int64, "ids", ndim=1)
        b = projector._batch(token_counts, factors)
        if b.samples != i.size:
            raise ValueError(f"{b.samples} token counts for {i.size} ids")
        vectors = []
        for name, v in (("losses", losses), ("reference_losses", reference_losses)):
            v = None if v is None else A.contiguous(v, np.float32, name, ndim=1)
            if v is not None and v.size != i.size:
                raise ValueError(f"{v.size} {name} for {i.size} ids")
            vectors.append(v)
        self._check(lib.wn_engine_add_candidate_factors(
            self._handle, projector._handle, A.i64(i), *b.args(), A.f32(vectors[0]),
            A.f32(vectors[1])))

    def select_step_factors(self, projector: FactoredProjector, token_counts, factors, target,
                            keep: int, step_size: float = 0.01) -> StepResult:
        """Step mode from linear-layer factors; see ``winnow.select_step_factors``.
        The projector's ``feature_dim`` must equal the engine's."""
        return _step_factors(lib.wn_engine_select_step_factors, self._handle, projector,
                             token_counts, factors, target, keep, step_size, self._check)

    def end_epoch(self) -> Plan:
        """Closes the epoch and returns the plan for the next one."""
        self._check(lib.wn_engine_end_epoch(self._handle, None))
        return self.plan()

    def plan(self) -> Plan:
        """The last plan (copied out of the library)."""
        n, k = ctypes.c_size_t(), ctypes.c_size_t()
        self._check(lib.wn_engine_plan_size(self._handle, ctypes.byref(n), ctypes.byref(k)))
        epoch, kind, policy = ctypes.c_int64(), ctypes.c_int32(), ctypes.c_int32()
        self._check(lib.wn_engine_plan_info(self._handle, ctypes.byref(epoch),
                                            ctypes.byref(kind), ctypes.byref(policy)))
        n, k = n.value, k.value
        ids, weights = np.empty(n, np.int64), np.empty(n, np.float32)
        probabilities, mixture = np.empty(n, np.float64), np.empty(k, np.float64)
        average, counts = np.empty(k, np.float64), np.empty(k, np.int64)
        h = self._handle
        self._check(lib.wn_engine_plan_ids(h, A.i64(ids), n))
        self._check(lib.wn_engine_plan_weights(h, A.f32(weights), n))
        self._check(lib.wn_engine_plan_probabilities(h, A.f64(probabilities), n))
        self._check(lib.wn_engine_plan_mixture(h, A.f64(mixture), k))
        self._check(lib.wn_engine_plan_mixture_average(h, A.f64(average), k))
        self._check(lib.wn_engine_plan_domain_counts(h, A.i64(counts), k))
        return Plan(epoch.value, PLAN_KINDS[kind.value], POLICIES[policy.value], ids, weights,
                    probabilities, mixture, average, counts)

    def pool_probabilities(self) -> np.ndarray:
        """Every pool position's inclusion probability in the last plan (N)."""
        out = np.empty(self.pool_ids.size, np.float64)
        self._check(lib.wn_engine_pool_probabilities(self._handle, A.f64(out), out.size))
        return out

    def scores(self) -> np.ndarray:
        """The combined score of every pool position (N, pool order)."""
        out = np.empty(self.pool_ids.size, np.float32)
        self._check(lib.wn_engine_scores(self._handle, A.f32(out), out.size))
        return out

    def select_step(self, features, target, keep: int, step_size: float = 0.01) -> StepResult:
        """Step mode: keeps ``keep`` of a ``B x k`` batch (GREATS), any time."""
        return _step(lib.wn_engine_select_step, self._handle, features, target, keep,
                     step_size, self._check)

