"""Python binding of libwinnow: training-time data selection (ctypes + NumPy).

Install the wheel (``make wheel``; ``pip install dist/winnow-*.whl``), or put
``bindings/python`` on ``sys.path``::

    import winnow
    winnow.version()                 # the library's version, e.g. "0.1.0"
    engine = winnow.Engine(ids, domains, feature_dim=k)
    engine.begin_epoch(0)
    engine.add_target(0, target_features)           # T x k float32
    engine.add_candidates(batch_ids, batch_features, losses=batch_losses)
    plan = engine.end_epoch()        # plan.ids, plan.weights, plan.mixture, ...

Arrays: C-contiguous ``float32`` (``int64`` for ids) are passed to the library
without a copy; anything else is converted first, which copies. Every failing
call raises a ``WinnowError`` subclass named for the library's status, which
also derives from the builtin it means (``ShapeError`` is a ``ValueError``).

Linear layers at scale: ``FactoredProjector`` projects weight gradients from
per-token activations and output gradients without forming them, and
``ghost_gram`` / ``ghost_target_dots`` give their exact dot products; the
engine takes factors directly (``Engine.add_candidate_factors``, ...).
``Curvature`` fits K-FAC / EK-FAC over those layers and gives preconditioned
(influence) features: whitened factors or eigenbasis features.

Thread safety follows the C library: module functions may be called from any
thread; one ``Projector`` or ``Engine`` must not be used by two threads at once.
"""

from __future__ import annotations

from ._errors import (BadStateError, BufferTooSmallError, FormatError, InternalError,
                      InvalidArgumentError, LibraryIOError, NonFiniteError, NullPointerError,
                      NumericalError, OutOfMemoryError, ShapeError, UnsupportedError,
                      WinnowError)
from ._lib import lib as _c
from .curvature import Curvature
from .engine import Engine, Plan, StepResult, param_bounds, select_step, select_step_factors
from .factored import FactoredProjector, factor_matrix, ghost_gram, ghost_target_dots
from .projector import Projector, SparseProjector
from .scorer import Scorer
from .selection import Selection, select_threshold, select_top_fraction, select_top_k
from .store import FeatureStore

__all__ = [
    "WinnowError", "Engine", "Plan", "StepResult", "Projector", "version", "abi_version",
    "blas_core_name", "blas_threads", "set_blas_threads", "param_bounds", "select_top_k",
    "select_top_fraction", "select_threshold", "select_step", "FactoredProjector",
    "ghost_gram", "ghost_target_dots", "select_step_factors", "Scorer", "SparseProjector",
    "factor_matrix", "Selection", "FeatureStore", "Curvature", "InvalidArgumentError", "ShapeError",
    "NonFiniteError", "LibraryIOError",
    "FormatError", "OutOfMemoryError", "BadStateError", "UnsupportedError", "NumericalError",
    "NullPointerError", "BufferTooSmallError", "InternalError",
]


def version() -> str:
    """The version of the loaded libwinnow, ``"MAJOR.MINOR.PATCH"``."""
    return _c.wn_version().decode()


def abi_version() -> int:
    """The ABI version of the loaded libwinnow (``WN_ABI_VERSION``)."""
    return int(_c.wn_abi_version())


def blas_core_name() -> str:
    """The OpenBLAS kernel family in use (e.g. ``"SkylakeX"``)."""
    return _c.wn_blas_core_name().decode()


def blas_threads() -> int:
    """The number of OpenBLAS threads (process-wide)."""
    return int(_c.wn_blas_threads())


def set_blas_threads(threads: int) -> None:
    """Sets the process-wide OpenBLAS thread count (1 to 1024, clamped to the CPU count)."""
    from ._errors import check

    check(_c.wn_set_blas_threads(threads))
